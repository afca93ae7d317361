"""The rollout analysis: verdicts from always-valid intervals, sample sizes, and the false-fail rate under many looks."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from agentgov.core.errors import InvalidValue
from agentgov.evals.analysis import (
    METRICS,
    Design,
    Verdict,
    analyse,
    analyse_mean,
    analyse_proportion,
    analyse_quantile,
    boundary,
    fixed_sample_size,
    min_sample_size,
    proportion_verdicts,
)

ALPHA, POWER = 0.05, 0.8
SIMULATIONS = 500
LOOKS = 8


def _binomial_noise(rate: float, runs: int) -> float:
    return 2.5 * math.sqrt(rate * (1 - rate) / runs)


def _looks(
    p_base: float, p_cand: float, runs: int, n: int, seed: int, margin: float = 0.0, mde: float = 0.03
) -> np.ndarray:
    """Verdicts of ``runs`` rollouts looked at ``LOOKS`` times each up to ``n`` per arm: shape (runs, LOOKS)."""
    rng = np.random.default_rng(seed)
    at = np.linspace(n / LOOKS, n, LOOKS).astype(int)
    steps = np.diff(at, prepend=0)
    base = rng.binomial(steps, p_base, (runs, LOOKS)).cumsum(axis=1)
    cand = rng.binomial(steps, p_cand, (runs, LOOKS)).cumsum(axis=1)
    return proportion_verdicts(
        base, at, cand, at, margin=margin, mde=mde, baseline_rate=p_base, alpha=ALPHA, power=POWER
    )


def test_the_sample_size_is_that_of_the_sequential_test_and_shown_beside_the_fixed_one() -> None:
    assert fixed_sample_size(0.02, 0.03, ALPHA, POWER) == 443  # statsmodels' one-sided NormalIndPower: 442.1
    n = min_sample_size(0.02, 0.03, ALPHA, POWER)
    assert 900 < n < 1100  # the price of looking any number of times: about twice the fixed-sample n
    assert min_sample_size(0.02, 0.03, ALPHA, 0.9) > n > min_sample_size(0.02, 0.03, 0.1, POWER)
    assert min_sample_size(0.02, 0.03, margin=0.01) > n  # a margin leaves less effect to detect


def test_repeated_looks_at_identical_versions_rarely_fail() -> None:
    n = min_sample_size(0.02, 0.03, ALPHA, POWER)
    verdicts = _looks(0.02, 0.02, SIMULATIONS, 2 * n, seed=11)  # looking on, to twice the sample size
    false_fail = (verdicts == "fail").any(axis=1).mean()
    print(f"A/A false-fail rate over {SIMULATIONS} rollouts x {LOOKS} looks: {false_fail:.3f}")
    assert false_fail <= ALPHA + _binomial_noise(ALPHA, SIMULATIONS)


def test_a_three_point_error_rate_increase_is_caught_at_the_stated_power() -> None:
    n = min_sample_size(0.02, 0.03, ALPHA, POWER)
    verdicts = _looks(0.02, 0.05, SIMULATIONS, n, seed=12)
    power = (verdicts == "fail").any(axis=1).mean()
    print(f"A/B 2% -> 5% caught by n={n}: {power:.3f}")
    assert POWER - _binomial_noise(POWER, SIMULATIONS) <= power <= 0.95
    assert not (verdicts == "pass").any()


def test_an_equal_candidate_passes_at_the_shown_pass_n_with_the_stated_power() -> None:
    shown = analyse_proportion("error_rate", 20, 1000, 20, 1000, margin=0.01, mde=0.03, baseline_rate=0.02)
    assert shown.pass_n > shown.min_n and f"an equal candidate passes at about {shown.pass_n}" in shown.reason
    verdicts = _looks(0.02, 0.02, SIMULATIONS, shown.pass_n, seed=15, margin=0.01)
    passed = (verdicts == "pass").any(axis=1).mean()
    print(f"A/A margin 0.01 passed by n={shown.pass_n}: {passed:.3f}")
    assert passed >= POWER - _binomial_noise(POWER, SIMULATIONS)
    assert not (verdicts == "fail").any()
    assert analyse_proportion("error_rate", 20, 1000, 20, 1000, margin=0.0, mde=0.03).pass_n is None


def test_a_single_fixed_sample_interval_looked_at_often_would_fail_identical_versions_too_often() -> None:
    # Why the sequential test: the same looks with a plain 90% normal interval.
    rng = np.random.default_rng(13)
    at = np.linspace(100, 2000, 20).astype(int)
    base = rng.binomial(1, 0.02, (SIMULATIONS, 2000)).cumsum(axis=1)[:, at - 1] / at
    cand = rng.binomial(1, 0.02, (SIMULATIONS, 2000)).cumsum(axis=1)[:, at - 1] / at
    se = np.sqrt((base * (1 - base) + cand * (1 - cand)) / at)
    naive = ((cand - base - 1.645 * se) > 0).any(axis=1).mean()
    assert naive > ALPHA + _binomial_noise(ALPHA, SIMULATIONS)


def test_the_vectorised_verdicts_are_those_of_the_single_analysis() -> None:
    rng = np.random.default_rng(14)
    n_base, n_cand = rng.integers(1, 3000, 200), rng.integers(1, 3000, 200)
    e_base, e_cand = rng.binomial(n_base, 0.02), rng.binomial(n_cand, 0.04)
    many = proportion_verdicts(e_base, n_base, e_cand, n_cand, margin=0.005, mde=0.03, baseline_rate=0.02)
    for i in range(200):
        one = analyse_proportion(
            "error_rate",
            int(e_base[i]),
            int(n_base[i]),
            int(e_cand[i]),
            int(n_cand[i]),
            margin=0.005,
            mde=0.03,
            baseline_rate=0.02,
        )
        assert one.verdict.value == many[i]


def test_a_clear_regression_fails_before_the_minimum_n_and_says_why() -> None:
    result = analyse_proportion("error_rate", 2, 200, 40, 200, margin=0.005, mde=0.03)
    assert result.verdict is Verdict.FAIL
    assert result.n_candidate < result.min_n
    assert result.interval[0] > result.margin
    assert "worse than allowed" in result.reason


def test_a_good_candidate_passes_only_once_it_has_the_minimum_n() -> None:
    early = analyse_proportion("error_rate", 20, 1000, 10, 1000, margin=0.02, mde=0.04)
    assert early.verdict is Verdict.INCONCLUSIVE and early.interval[1] < early.margin
    assert "too few samples" in early.reason and str(early.min_n) in early.reason
    late = analyse_proportion("error_rate", 200, 10_000, 100, 10_000, margin=0.02, mde=0.04)
    assert late.verdict is Verdict.PASS and late.n_candidate >= late.min_n


def test_straddling_the_margin_is_inconclusive() -> None:
    result = analyse_proportion("error_rate", 200, 10_000, 260, 10_000, margin=0.005, mde=0.03)
    low, high = result.interval
    assert low < result.margin < high
    assert result.verdict is Verdict.INCONCLUSIVE and "straddles" in result.reason


@pytest.mark.parametrize(("baseline", "candidate"), [([], []), ([], [0, 1, 0]), ([0, 0, 1], [])])
def test_no_data_never_passes(baseline: list[int], candidate: list[int]) -> None:
    result = analyse("error_rate", baseline, candidate, margin=0.5, mde=0.6, baseline_rate=0.02)
    assert result.verdict is Verdict.INCONCLUSIVE
    assert result.interval is None and "never passes" in result.reason


def test_no_errors_yet_in_either_arm_is_no_pass() -> None:
    # A zero-variance estimate would give a zero-width interval; the added counts keep it honest.
    result = analyse_proportion("error_rate", 0, 30, 0, 30, margin=0.01, mde=0.03)
    assert result.verdict is Verdict.INCONCLUSIVE
    assert result.interval[1] > 0.01


def test_the_result_is_frozen_and_serialises_to_json() -> None:
    result = analyse_proportion("error_rate", 20, 1000, 50, 1000, margin=0.0, mde=0.03)
    with pytest.raises(AttributeError):
        result.verdict = Verdict.PASS  # type: ignore[misc]
    data = json.loads(json.dumps(result.to_dict()))
    assert data["verdict"] == "fail" and data["method"] == "msprt" and data["min_n"] == result.min_n
    assert data["n_baseline"] == 1000 and len(data["interval"]) == 2 and data["p_value"] < ALPHA


def test_latency_p95_regression_is_caught_and_identical_latencies_are_not() -> None:
    rng = np.random.default_rng(21)
    base = rng.lognormal(4.6, 0.5, 3000)
    slow = analyse_quantile(
        "latency_p95_ms", base, rng.lognormal(4.6, 0.5, 3000) * 1.5, margin=0.1, mde=0.3, relative=True
    )
    assert slow.verdict is Verdict.FAIL and slow.margin == pytest.approx(0.1 * slow.baseline)
    fails = 0
    for _ in range(100):
        same = analyse_quantile(
            "latency_p95_ms", base, rng.lognormal(4.6, 0.5, 3000), margin=0.0, mde=0.3, relative=True
        )
        fails += same.verdict is Verdict.FAIL
    assert fails <= 100 * ALPHA + 2.5 * math.sqrt(100 * ALPHA * (1 - ALPHA))


def test_mean_cost_within_a_relative_margin_passes() -> None:
    rng = np.random.default_rng(22)
    base, cand = rng.gamma(2.0, 0.01, 5000), rng.gamma(2.0, 0.01, 5000)
    result = analyse_mean("cost", base, cand, margin=0.1, mde=0.2, relative=True)
    assert result.verdict is Verdict.PASS, result.reason
    assert analyse("cost", base, cand * 1.3, margin=0.1, mde=0.2, relative=True).verdict is Verdict.FAIL


def test_values_without_spread_or_a_zero_baseline_give_no_verdict() -> None:
    flat = analyse("latency_mean_ms", [5.0] * 50, [9.0] * 50, margin=1.0, mde=2.0)
    assert flat.verdict is Verdict.INCONCLUSIVE and flat.interval is None and "no spread" in flat.reason
    json.loads(json.dumps(flat.to_dict(), allow_nan=False))
    free = analyse("cost", [0.0] * 50, [0.1] * 50, margin=0.1, mde=0.3, relative=True)
    assert free.verdict is Verdict.INCONCLUSIVE and "give an absolute one" in free.reason


def test_too_few_values_for_a_percentile_is_inconclusive() -> None:
    result = analyse("latency_p95_ms", [10.0] * 5, [90.0] * 5, margin=1.0, mde=5.0)
    assert result.verdict is Verdict.INCONCLUSIVE and "at least 20" in result.reason


def test_bad_designs_and_values_are_refused() -> None:
    with pytest.raises(InvalidValue, match="larger than the margin"):
        analyse_proportion("error_rate", 1, 10, 1, 10, margin=0.03, mde=0.03)
    with pytest.raises(InvalidValue, match="alpha"):
        Design(0.7, 0.8, 0.01)
    with pytest.raises(InvalidValue, match="unknown metric"):
        analyse("accuracy", [1], [1], margin=0, mde=0.1)
    with pytest.raises(InvalidValue, match="0 or 1"):
        analyse("error_rate", [0, 2], [0, 1], margin=0, mde=0.1)
    with pytest.raises(InvalidValue, match="finite"):
        analyse("cost", [1.0, float("nan")], [1.0, 2.0], margin=0, mde=0.1)
    with pytest.raises(InvalidValue, match="events out of"):
        analyse_proportion("error_rate", 5, 3, 0, 3, margin=0, mde=0.1)


def test_the_boundary_is_wider_than_a_single_look_and_narrowest_at_the_designed_rho() -> None:
    design = Design(ALPHA, POWER, 0.03)
    assert boundary(design.rho, ALPHA) > 1.645
    assert boundary(design.rho, ALPHA) <= min(boundary(design.rho / 4, ALPHA), boundary(design.rho * 4, ALPHA))
    assert set(METRICS.values()) == {"proportion", "mean", "quantile"}


@pytest.mark.parametrize("judge", [analyse_quantile, analyse_mean])
def test_repeated_looks_at_identical_latencies_rarely_fail(judge) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(23)
    runs, fails = 200, 0
    for _ in range(runs):
        base, cand = rng.lognormal(4.6, 0.5, 1600), rng.lognormal(4.6, 0.5, 1600)
        looks = (
            judge("latency_ms", base[:n], cand[:n], margin=0.0, mde=0.3, relative=True)
            for n in (50, 100, 200, 400, 800, 1600)
        )
        fails += any(result.verdict is Verdict.FAIL for result in looks)
    assert fails / runs <= ALPHA + _binomial_noise(ALPHA, runs)
