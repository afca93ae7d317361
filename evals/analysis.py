"""Honest analysis of a rollout metric: is the candidate worse than the baseline by more than a margin?

Every verdict comes from an interval of ``difference = candidate - baseline``
(higher is worse for every metric here: errors, latency, cost, tokens):

* the whole interval above the margin: ``fail`` (the candidate is worse than allowed);
* the whole interval below the margin, with at least ``min_n`` observations in
  each arm: ``pass``;
* anything else is ``inconclusive``: the interval straddles the margin, too few
  observations were seen for a pass, or there is no data at all. No data never passes.

**Repeated looks.** A rollout controller looks at a step's numbers again and
again while traffic arrives, so a fixed-sample interval would be checked many
times and its false-fail rate would grow with every look. The interval here is
an *always-valid confidence sequence* from a mixture sequential probability
ratio test (mSPRT, Robbins' normal mixture; Johari et al., "Always valid
inference", 2017): the probability that it *ever* wrongly leaves the truth, at
any look, at any number of looks, is at most ``alpha`` on each side. It is a
function of the current counts alone, so no record of earlier looks is kept.
Each side mixes the likelihood ratio over a half-normal prior on the side it
tests (the "fail" side over increases, the "pass" side over decreases), so the
fail decision has false-positive rate at most ``alpha`` and the pass decision
at most ``alpha``; together the interval is a ``1 - 2*alpha`` confidence
sequence, as in a two one-sided test (TOST).

Because a confidence sequence is valid at every look, a fail may come before
``min_n`` (a clearly broken candidate is stopped early); a pass never does.

**The mixing variance** ``tau2`` is fixed by the design, never by the data:
for ``alpha`` it takes the mixing ratio ``rho = tau2 / v`` that makes the
boundary narrowest, and places it at the sample size that catches an increase
of ``mde`` over the margin with probability ``power``. ``min_n`` is that
sample size. It is about twice what a single fixed-sample test needs (a
one-sided arcsine test wants 442 per arm for 2% -> 5% at alpha 0.05, power
0.8; this test wants 971): the price of looking as often as one likes.
``pass_n`` is the sample size at which a candidate *equal* to the baseline
passes with ``power`` (none for a margin of 0). docs/rollout-analysis.md
has a table of both.

**Variances** are plug-in estimates, so validity is asymptotic: proportions
use one added success and one added failure per arm (Agresti-Caffo), so an arm
with no errors yet does not get a zero-width interval; means use the sample
variance; the 95th percentile uses the distribution-free order-statistic
interval turned into a standard error. ``tests/evals/test_analysis.py``
measures the false-fail rate of 500 A/A rollouts with several looks each.

Pure numpy and scipy; no I/O. Results are frozen :class:`Analysis` values.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from statistics import NormalDist
from typing import Any

from agentgov.core.errors import InvalidValue

# The metrics a rollout plan may analyse, and what kind of statistic each is.
# agentgov.deploy.plan lists the same names (an engine may not import another);
# tests/deploy/test_plan.py keeps the two lists equal.
METRICS: dict[str, str] = {
    "error_rate": "proportion",
    "latency_p95_ms": "quantile",
    "latency_mean_ms": "mean",
    "cost": "mean",
    "tokens": "mean",
}
METHOD = "msprt"
QUANTILE = 0.95
MIN_QUANTILE_VALUES = 20  # fewer, and the order-statistic interval of a 95th percentile is not defined

_Z = NormalDist()


class Verdict(enum.StrEnum):
    PASS = "pass"
    FAIL = "fail"
    INCONCLUSIVE = "inconclusive"


@dataclass(frozen=True)
class Analysis:
    """One metric's verdict, with everything it rests on.

    ``margin`` is absolute, in the metric's units (a relative margin has been
    multiplied by the baseline). ``interval`` is the ``1 - 2*alpha`` confidence
    sequence of ``difference``; ``p_value`` is the always-valid p-value of "the
    candidate is no worse than the margin" (small: fail). ``min_n`` is per arm.
    """

    metric: str
    kind: str
    baseline: float | None
    candidate: float | None
    difference: float | None
    interval: tuple[float, float] | None
    margin: float
    n_baseline: int
    n_candidate: int
    min_n: int | None
    verdict: Verdict
    reason: str
    alpha: float
    p_value: float | None = None
    pass_n: int | None = (
        None  # per arm, for a candidate equal to the baseline to pass with the power; None for margin 0
    )
    method: str = METHOD

    def to_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "kind": self.kind,
            "baseline": _float(self.baseline),
            "candidate": _float(self.candidate),
            "difference": _float(self.difference),
            "interval": None if self.interval is None else [float(self.interval[0]), float(self.interval[1])],
            "margin": float(self.margin),
            "n_baseline": int(self.n_baseline),
            "n_candidate": int(self.n_candidate),
            "min_n": self.min_n,
            "verdict": self.verdict.value,
            "reason": self.reason,
            "alpha": float(self.alpha),
            "p_value": _float(self.p_value),
            "pass_n": self.pass_n,
            "method": self.method,
        }


@dataclass(frozen=True)
class Design:
    """The sequential test for one metric: ``alpha``, ``power`` and the effect it must catch.

    ``effect`` is ``mde - margin``, how far above the margin a regression must be
    to be caught with probability ``power`` at ``min_n`` per arm.
    """

    alpha: float
    power: float
    effect: float

    def __post_init__(self) -> None:
        if not 0 < self.alpha < 0.5:
            raise InvalidValue(f"alpha must be between 0 and 0.5, got {self.alpha!r}")
        if not 0 < self.power < 1:
            raise InvalidValue(f"power must be between 0 and 1, got {self.power!r}")
        if not self.effect > 0 or not math.isfinite(self.effect):
            raise InvalidValue(
                f"the minimum detectable effect must be larger than the margin (mde - margin = {self.effect!r})"
            )

    @property
    def rho(self) -> float:
        """The mixing ratio ``tau2 / v`` at ``min_n``: the one with the narrowest boundary."""
        return _best_rho(self.alpha)[0]

    @property
    def standardized_effect(self) -> float:
        """``effect / sqrt(v)`` needed at ``min_n``: the boundary plus the power's quantile."""
        return _best_rho(self.alpha)[1] + _Z.inv_cdf(self.power)

    @property
    def tau2(self) -> float:
        """The mixing variance, in the metric's units squared (fixed before any data is seen)."""
        return self.rho * (self.effect / self.standardized_effect) ** 2

    def min_n(self, pair_variance: float) -> int:
        """Observations per arm to catch ``effect`` with ``power``, when one pair's difference has this variance."""
        if not pair_variance > 0 or not math.isfinite(pair_variance):
            return 1
        return max(1, math.ceil(self.standardized_effect**2 * pair_variance / self.effect**2))

    def pass_n(self, pair_variance: float, margin: float) -> int | None:
        """Observations per arm at which a candidate *equal* to the baseline passes with ``power``; None for margin 0.

        The smallest n with ``margin / se(n) >= boundary(n) + z_power``, found by
        fixed-point iteration from below (the boundary grows slowly with n).
        """
        if not margin > 0 or not pair_variance > 0 or not math.isfinite(pair_variance):
            return None
        z_power = _Z.inv_cdf(self.power)

        def needed(n: float) -> float:
            return pair_variance * (boundary(self.tau2 * n / pair_variance, self.alpha) + z_power) ** 2 / margin**2

        n = pair_variance * (self.standardized_effect / margin) ** 2  # the boundary at its lowest
        for _ in range(100):
            following = needed(n)
            if following - n < 0.5:
                break
            n = following
        return max(1, math.ceil(n))

    def halfwidth(self, variance: Any) -> Any:
        """Half the width of the confidence sequence when the difference's estimate has ``variance`` (arrays too)."""
        if isinstance(variance, float | int):
            return _boundary_one(self.tau2 / variance, self.alpha) * math.sqrt(variance) if variance > 0 else math.inf
        import numpy as np

        variance = np.asarray(variance, dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            rho = np.where(variance > 0, self.tau2 / variance, np.inf)
        return boundary(rho, self.alpha) * np.sqrt(variance)

    def p_value(self, difference: float, variance: float, margin: float) -> float:
        """The always-valid p-value of "difference <= margin": 1 / the one-sided mixture likelihood ratio, at most 1."""
        if not variance > 0:
            return 0.0 if difference > margin else 1.0
        z = (difference - margin) / math.sqrt(variance)
        if z <= 0:
            return 1.0  # the mixture ratio is increasing in z and at most 1 at z = 0
        rho = self.tau2 / variance
        share = rho / (1 + rho)
        log_ratio = math.log(2) - 0.5 * math.log1p(rho) + share * z * z / 2
        log_ratio += math.log(0.5 * math.erfc(-z * math.sqrt(share) / math.sqrt(2)))
        return min(1.0, math.exp(-log_ratio)) if log_ratio < 700 else 0.0


def boundary(rho: Any, alpha: float) -> Any:
    """The standardized boundary ``z`` where the one-sided half-normal mixture likelihood ratio reaches ``1/alpha``.

    ``rho`` is ``tau2 / v`` (an array is fine). The mixture ratio is increasing
    in ``z``, so the boundary is found by bisection; ``rho`` infinite (no
    variance) gives ``inf``.
    """
    if isinstance(rho, float | int):
        return _boundary_one(float(rho), alpha)
    import numpy as np

    rho = np.asarray(rho, dtype=float)
    finite = np.isfinite(rho) & (rho > 0)
    r = np.where(finite, rho, 1.0)
    target = math.log(1 / alpha)
    low, high = np.zeros_like(r), np.full_like(r, 60.0)
    for _ in range(60):
        mid = (low + high) / 2
        above = _log_mixture(mid, r) >= target
        high = np.where(above, mid, high)
        low = np.where(above, low, mid)
    result = np.where(finite, high, np.inf)
    return result if result.ndim else float(result)


def _boundary_one(rho: float, alpha: float) -> float:
    """:func:`boundary` for one ``rho``, in plain floats (a verdict per look needs only this)."""
    if not (math.isfinite(rho) and rho > 0):
        return math.inf
    target = math.log(1 / alpha)
    share = rho / (1 + rho)
    constant = math.log(2) - 0.5 * math.log1p(rho)
    low, high = 0.0, 60.0
    for _ in range(60):
        mid = (low + high) / 2
        # z >= 0 here, so Phi(z * sqrt(share)) is at least 1/2: no underflow.
        value = constant + share * mid * mid / 2 + math.log(0.5 * math.erfc(-mid * math.sqrt(share) / math.sqrt(2)))
        low, high = (low, mid) if value >= target else (mid, high)
    return high


def _log_mixture(z: Any, rho: Any) -> Any:
    """log of ``2 (1+rho)^-1/2 exp(rho z^2 / 2(1+rho)) Phi(z sqrt(rho/(1+rho)))``: the likelihood ratio mixed over a half-normal."""
    import numpy as np
    from scipy.special import log_ndtr

    z = np.asarray(z, dtype=float)
    rho = np.asarray(rho, dtype=float)
    share = rho / (1 + rho)
    return math.log(2) - 0.5 * np.log1p(rho) + share * z * z / 2 + log_ndtr(z * np.sqrt(share))


@lru_cache(maxsize=32)
def _best_rho(alpha: float) -> tuple[float, float]:
    """The ``rho`` whose boundary is lowest for ``alpha``, and that boundary."""
    import numpy as np

    grid = np.geomspace(0.05, 2000.0, 600)
    values = boundary(grid, alpha)
    best = int(np.argmin(values))
    return float(grid[best]), float(values[best])


def fixed_sample_size(baseline_rate: float, mde: float, alpha: float = 0.05, power: float = 0.8) -> int:
    """Per arm, for a *single* look: the one-sided arcsine (Cohen's h) test of statsmodels' power tables.

    For comparison only: looking more than once at a fixed-sample test inflates
    its false-positive rate; :func:`min_sample_size` is the n this module uses.
    """
    _check_rate(baseline_rate, mde)
    h = 2 * math.asin(math.sqrt(baseline_rate + mde)) - 2 * math.asin(math.sqrt(baseline_rate))
    return math.ceil(2 * ((_Z.inv_cdf(1 - alpha) + _Z.inv_cdf(power)) / h) ** 2)


def min_sample_size(
    baseline_rate: float, mde: float, alpha: float = 0.05, power: float = 0.8, margin: float = 0.0
) -> int:
    """Per arm: the n at which this module's sequential test catches ``baseline_rate -> baseline_rate + mde`` with ``power``."""
    _check_rate(baseline_rate, mde)
    design = Design(alpha, power, mde - margin)
    return design.min_n(_pair_variance(baseline_rate, mde))


def analyse_proportion(
    metric: str,
    baseline_events: int,
    baseline_n: int,
    candidate_events: int,
    candidate_n: int,
    *,
    margin: float,
    mde: float,
    alpha: float = 0.05,
    power: float = 0.8,
    baseline_rate: float | None = None,
) -> Analysis:
    """A rate (errors per request): ``events`` out of ``n`` in each arm.

    ``baseline_rate`` sizes ``min_n``; without it, the baseline's observed rate does.
    """
    for name, events, n in (("baseline", baseline_events, baseline_n), ("candidate", candidate_events, candidate_n)):
        if n < 0 or events < 0 or events > n:
            raise InvalidValue(f"{metric}: the {name} has {events} events out of {n}")
    design = Design(alpha, power, mde - margin)
    shown = _Shown(metric, "proportion", margin, baseline_n, candidate_n, alpha)
    if baseline_n == 0 or candidate_n == 0:
        return shown.no_data()
    p_base, p_cand, variance = _proportion_estimates(baseline_events, baseline_n, candidate_events, candidate_n)
    rate = float((baseline_events + 1) / (baseline_n + 2)) if baseline_rate is None else baseline_rate
    _check_rate(rate, mde)
    min_n = design.min_n(_pair_variance(rate, mde))
    pass_n = design.pass_n(2 * rate * (1 - rate), margin)
    return shown.judge(design, float(p_base), float(p_cand), float(variance), min_n, pass_n)


def proportion_verdicts(
    baseline_events: Any,
    baseline_n: Any,
    candidate_events: Any,
    candidate_n: Any,
    *,
    margin: float,
    mde: float,
    baseline_rate: float,
    alpha: float = 0.05,
    power: float = 0.8,
) -> Any:
    """:func:`analyse_proportion`'s verdicts for arrays of counts at once (simulations, backfills): an array of strings."""
    import numpy as np

    design = Design(alpha, power, mde - margin)
    _check_rate(baseline_rate, mde)
    min_n = design.min_n(_pair_variance(baseline_rate, mde))
    counts = [np.asarray(a, dtype=float) for a in (baseline_events, baseline_n, candidate_events, candidate_n)]
    empty = (counts[1] == 0) | (counts[3] == 0)
    safe = [np.where(empty, 1.0, a) for a in counts]
    p_base, p_cand, variance = _proportion_estimates(*safe)
    codes = _verdicts(design, p_cand - p_base, variance, margin, np.minimum(counts[1], counts[3]), min_n)
    return np.where(empty, Verdict.INCONCLUSIVE.value, codes)


def _proportion_estimates(base_events: Any, base_n: Any, cand_events: Any, cand_n: Any) -> tuple[Any, Any, Any]:
    """The two observed rates and the variance of their difference (Agresti-Caffo: one added success and failure per arm)."""
    smoothed_base = (base_events + 1) / (base_n + 2)
    smoothed_cand = (cand_events + 1) / (cand_n + 2)
    variance = smoothed_base * (1 - smoothed_base) / base_n + smoothed_cand * (1 - smoothed_cand) / cand_n
    return base_events / base_n, cand_events / cand_n, variance


def _verdicts(design: Design, difference: Any, variance: Any, margin: float, seen: Any, min_n: int | None) -> Any:
    """The verdict rule, on arrays: fail when the interval lies above the margin, pass when below it after ``min_n``."""
    import numpy as np

    half = design.halfwidth(variance)
    enough = np.zeros_like(seen, dtype=bool) if min_n is None else seen >= min_n
    return np.where(
        difference - half > margin,
        Verdict.FAIL.value,
        np.where((difference + half < margin) & enough, Verdict.PASS.value, Verdict.INCONCLUSIVE.value),
    )


def analyse_mean(
    metric: str,
    baseline: Sequence[float],
    candidate: Sequence[float],
    *,
    margin: float,
    mde: float,
    alpha: float = 0.05,
    power: float = 0.8,
    relative: bool = False,
) -> Analysis:
    """A mean per request (latency, cost, tokens). ``relative``: margin and mde are fractions of the baseline mean."""
    import numpy as np

    base, cand = _values(metric, baseline), _values(metric, candidate)
    shown = _Shown(metric, "mean", margin, base.size, cand.size, alpha)
    if base.size < 2 or cand.size < 2:
        return shown.no_data(base.size, cand.size, need=2)
    mean_base, mean_cand = float(base.mean()), float(cand.mean())
    var_base, var_cand = float(base.var(ddof=1)), float(cand.var(ddof=1))
    if relative:
        if mean_base == 0:
            return shown.undefined("the baseline's mean is 0, so a relative margin means nothing; give an absolute one")
        margin, mde = margin * abs(mean_base), mde * abs(mean_base)
        shown = _Shown(metric, "mean", margin, base.size, cand.size, alpha)
    design = Design(alpha, power, mde - margin)
    variance = var_base / base.size + var_cand / cand.size
    min_n = design.min_n(2 * var_base) if np.isfinite(var_base) else None
    return shown.judge(design, mean_base, mean_cand, variance, min_n, design.pass_n(2 * var_base, margin))


def analyse_quantile(
    metric: str,
    baseline: Sequence[float],
    candidate: Sequence[float],
    *,
    margin: float,
    mde: float,
    alpha: float = 0.05,
    power: float = 0.8,
    relative: bool = False,
    q: float = QUANTILE,
) -> Analysis:
    """A percentile per request (latency p95). ``relative``: margin and mde are fractions of the baseline percentile."""
    base, cand = _values(metric, baseline), _values(metric, candidate)
    shown = _Shown(metric, "quantile", margin, base.size, cand.size, alpha)
    if base.size < MIN_QUANTILE_VALUES or cand.size < MIN_QUANTILE_VALUES:
        return shown.no_data(base.size, cand.size, need=MIN_QUANTILE_VALUES)
    q_base, se_base = _quantile_and_se(base, q)
    q_cand, se_cand = _quantile_and_se(cand, q)
    if relative:
        if q_base == 0:
            return shown.undefined(
                "the baseline's percentile is 0, so a relative margin means nothing; give an absolute one"
            )
        margin, mde = margin * abs(q_base), mde * abs(q_base)
        shown = _Shown(metric, "quantile", margin, base.size, cand.size, alpha)
    design = Design(alpha, power, mde - margin)
    pair_variance = 2 * base.size * se_base**2
    min_n = design.min_n(pair_variance)
    return shown.judge(design, q_base, q_cand, se_base**2 + se_cand**2, min_n, design.pass_n(pair_variance, margin))


def analyse(
    metric: str,
    baseline: Sequence[float],
    candidate: Sequence[float],
    *,
    margin: float,
    mde: float,
    alpha: float = 0.05,
    power: float = 0.8,
    relative: bool = False,
    baseline_rate: float | None = None,
) -> Analysis:
    """One of :data:`METRICS` from per-request values: 0/1 per request for ``error_rate``, else the measurement."""
    kind = METRICS.get(metric)
    if kind is None:
        raise InvalidValue(f"unknown metric {metric!r}: expected one of {', '.join(METRICS)}")
    if kind == "proportion":
        if relative:
            raise InvalidValue(f"{metric}: a rate takes an absolute margin, not a relative one")
        base, cand = _values(metric, baseline), _values(metric, candidate)
        if ((base != 0) & (base != 1)).any() or ((cand != 0) & (cand != 1)).any():
            raise InvalidValue(f"{metric}: expected 0 or 1 per request")
        return analyse_proportion(
            metric,
            int(base.sum()),
            base.size,
            int(cand.sum()),
            cand.size,
            margin=margin,
            mde=mde,
            alpha=alpha,
            power=power,
            baseline_rate=baseline_rate,
        )
    judge = analyse_mean if kind == "mean" else analyse_quantile
    return judge(metric, baseline, candidate, margin=margin, mde=mde, alpha=alpha, power=power, relative=relative)


@dataclass(frozen=True)
class _Shown:
    """What every result of one metric carries; builds the result for each outcome."""

    metric: str
    kind: str
    margin: float
    n_baseline: int
    n_candidate: int
    alpha: float

    def no_data(self, n_base: int | None = None, n_cand: int | None = None, need: int = 1) -> Analysis:
        if need > 1 and (n_base or n_cand):
            reason = f"no verdict: {n_base} baseline and {n_cand} candidate values, at least {need} of each are needed"
        else:
            arms = [name for name, n in (("baseline", self.n_baseline), ("candidate", self.n_candidate)) if n == 0]
            reason = f"no data from the {' or the '.join(arms) or 'arms'}: a metric without data never passes"
        return self._result(None, None, None, None, None, Verdict.INCONCLUSIVE, reason)

    def undefined(self, reason: str) -> Analysis:
        return self._result(None, None, None, None, None, Verdict.INCONCLUSIVE, reason)

    def judge(
        self, design: Design, baseline: float, candidate: float, variance: float, min_n: int | None, pass_n: int | None
    ) -> Analysis:
        difference = candidate - baseline
        if not variance > 0:
            reason = "the values have no spread (every one the same), so there is no interval to judge"
            return self._result(baseline, candidate, difference, None, min_n, Verdict.INCONCLUSIVE, reason)
        half = float(design.halfwidth(variance))
        low, high = difference - half, difference + half
        p_value = design.p_value(difference, variance, self.margin)
        seen = min(self.n_baseline, self.n_candidate)
        where = f"difference {difference:+.4g}, interval [{low:+.4g}, {high:+.4g}] vs margin {self.margin:+.4g}"
        verdict = Verdict(str(_verdicts(design, difference, variance, self.margin, seen, min_n)))
        if verdict is Verdict.FAIL:
            reason = f"worse than allowed: {where}"
        elif verdict is Verdict.PASS:
            reason = f"within the margin: {where}, n {seen} >= {min_n}"
        elif high < self.margin:
            reason = f"too few samples to pass: {where}, n {seen} of {min_n} per arm"
        else:
            equal = (
                "an equal candidate cannot pass a margin of 0"
                if pass_n is None
                else f"an equal candidate passes at about {pass_n}"
            )
            reason = f"the interval straddles the margin: {where}, n {seen} per arm (min {min_n}; {equal})"
        return self._result(baseline, candidate, difference, (low, high), min_n, verdict, reason, p_value, pass_n)

    def _result(
        self, baseline, candidate, difference, interval, min_n, verdict, reason, p_value=None, pass_n=None
    ) -> Analysis:  # type: ignore[no-untyped-def]
        return Analysis(
            self.metric,
            self.kind,
            baseline,
            candidate,
            difference,
            interval,
            self.margin,
            self.n_baseline,
            self.n_candidate,
            min_n,
            verdict,
            reason,
            self.alpha,
            p_value,
            pass_n,
        )


def _pair_variance(baseline_rate: float, mde: float) -> float:
    high = min(baseline_rate + mde, 1.0)
    return baseline_rate * (1 - baseline_rate) + high * (1 - high)


def _check_rate(rate: float, mde: float) -> None:
    if not 0 <= rate <= 1:
        raise InvalidValue(f"a baseline rate must be between 0 and 1, got {rate!r}")
    if not 0 < mde <= 1 - rate:
        raise InvalidValue(
            f"the minimum detectable effect must be above 0 and at most {1 - rate:g} for a baseline rate of {rate:g}, got {mde!r}"
        )


def _values(metric: str, values: Sequence[float]) -> Any:
    import numpy as np

    array = np.asarray(values, dtype=float).ravel()
    if not np.isfinite(array).all():
        raise InvalidValue(f"{metric}: values must be finite numbers")
    return array


def _quantile_and_se(values: Any, q: float) -> tuple[float, float]:
    """The ``q`` quantile and its standard error from the distribution-free order-statistic 95% interval."""
    import numpy as np

    ordered = np.sort(values)
    n = ordered.size
    z = _Z.inv_cdf(0.975)
    spread = z * math.sqrt(n * q * (1 - q))
    low = min(max(math.floor(n * q - spread), 0), n - 1)
    high = min(max(math.ceil(n * q + spread), 0), n - 1)
    return float(np.quantile(ordered, q)), float(ordered[high] - ordered[low]) / (2 * z)


def _float(value: float | None) -> float | None:
    return None if value is None else float(value)
