"""Column-by-column drift: what every drift evaluator shares, whoever picks the tests.

:func:`compare` takes the two frames and a *chooser*, the evaluator's rule for
which test judges a column (the built-in ``evidently-drift`` plugin passes
Evidently's ``DataDriftPreset`` table; another plugin passes its own), and does
the rest the same way for all of them:

1. picks the columns both sides have and their type (:func:`infer_column_type`);
2. prepares each column once (numbers sorted and merged once, categories
   counted once) and shows the chooser the facts it may decide on
   (:class:`ColumnFacts`: type, rows, distinct values);
3. computes the chosen statistic exactly on all rows
   (:mod:`agentgov.evals.drift_stats`), and the column's *effect size*: how far
   the distribution moved, whatever the sample size;
4. judges. A column drifts when its test fires **and** its effect is at least
   ``min_effect``: with enough rows any difference is "significant", and a
   reference that is (nearly) constant turns the smallest change into a tiny
   p-value, so a negligible change is reported with its effect and a note, not
   as drift. Tests whose score is a p-value share the false-positive level
   (Bonferroni): each is judged at ``threshold / m`` for ``m`` such columns, so
   the chance that a window from the reference's own distribution shows any
   drifted column stays at most the nominal level. And the chi-square test is
   the two-sample one, its p-value simulated
   (:func:`~agentgov.evals.drift_stats.chisquare_two_sample_pvalue`): the
   reference is a sample too, not the truth, and a value seen a few times is
   no difference by itself;
5. fails closed: a NaN or infinite score makes the result ``error``; values
   near the float limit are rescaled by a power of two (exact) before anything
   is squared.

Effect sizes: for numbers compared as distributions, the Wasserstein distance
(how far each value moved on average) in units of the column's scale, the
reference's standard deviation, but never less than the column's declared
minimum scale (``scales``; the text descriptors declare theirs, see
:mod:`agentgov.evals.drift_features`); for categories and numbers compared by
their counts, the total variation distance (the share of rows that changed
value). Column types: floats are numbers; integers are numbers above 10
distinct values, else categories; strings are text when more than half the
values are distinct, else categories; booleans, pandas categoricals and
objects mixing strings with numbers are categories; anything else (dates,
nested objects) is skipped and named in the result's message.
"""

from __future__ import annotations

import operator
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from agentgov.core.errors import InvalidValue
from agentgov.evals import drift_stats as stats
from agentgov.evals.drift_result import COLUMN_TYPES, ColumnDrift, DriftResult, DriftStatus

if TYPE_CHECKING:
    import pandas as pd

MIN_ROWS = 30
"""Below this many rows on either side the result is ``insufficient-data``, with no verdict."""

MIN_EFFECT = 0.1
"""The smallest effect that counts as drift: a tenth of the column's scale, or a tenth of the rows changing value."""

INTEGER_CARDINALITY_LIMIT = 10

COUNTED = frozenset({"chisquare", "z"})
"""Statistics computed on the counts of each value, whose effect is the total variation distance."""

STATISTICS: Mapping[str, tuple[tuple[str, ...], bool]] = {
    "ks": (("num",), True),
    "wasserstein": (("num",), False),
    "chisquare": (("num", "cat"), True),
    "z": (("num", "cat"), True),
    "jensenshannon": (("num", "cat"), False),
    "psi": (("num", "cat"), False),
}
"""The statistics the engine computes: name -> (column types, whether the score is a p-value)."""

P_VALUE_DRIFTS = operator.lt
DISTANCE_DRIFTS = operator.ge


@dataclass(frozen=True)
class ColumnFacts:
    """What a chooser may decide on: the column, its type, and its present values (NaN and infinities dropped)."""

    column: str
    column_type: str
    reference_rows: int
    current_rows: int
    distinct: int  # distinct present values over both sides


@dataclass(frozen=True)
class ColumnTest:
    """How one column is judged.

    ``method`` is one of :data:`STATISTICS`, computed by the engine, unless
    ``run`` is given: ``run(reference, current, threshold) -> (score, drifted)``
    computes a statistic the engine does not know (a text classifier, say) on
    the column's present values. ``drifted(score, threshold)`` says which side of
    the threshold is drift; by default p-values drift below it and distances at
    or above it.
    """

    method: str
    threshold: float
    drifted: Callable[[float, float], bool] | None = None
    run: Callable[[Any, Any, float], tuple[float, bool]] | None = None

    @property
    def p_value(self) -> bool:
        return self.run is None and STATISTICS.get(self.method, ((), False))[1]

    def judge(self, score: float, threshold: float) -> bool:
        if self.drifted is not None:
            return bool(self.drifted(score, threshold))
        return bool((P_VALUE_DRIFTS if self.p_value else DISTANCE_DRIFTS)(score, threshold))


Chooser = Callable[[ColumnFacts], ColumnTest]


def compare(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    choose: Chooser,
    *,
    columns: Sequence[str] | None = None,
    column_types: Mapping[str, str] | None = None,
    scales: Mapping[str, float] | None = None,
    drift_share: float = 0.5,
    min_rows: int = MIN_ROWS,
    min_effect: float = MIN_EFFECT,
    familywise: bool = True,
    two_sample: bool = True,
) -> DriftResult:
    """Drift of ``current`` against ``reference``, column by column and for the data set.

    ``choose`` picks each column's test. ``column_types`` maps a column to
    ``num``, ``cat`` or ``text`` instead of inferring it; ``scales`` gives a
    numeric column's smallest scale (its unit of effect). The data set drifts
    when the share of drifted columns is at least ``drift_share``.
    ``min_effect=0``, ``familywise=False`` and ``two_sample=False`` (the
    chi-square as a goodness-of-fit test against the reference's shares, with
    the asymptotic p-value) judge
    each column by its test alone, as most drift tools do. A mistake in the
    inputs raises :class:`InvalidValue`.
    """
    reference = reference.reset_index(drop=True)
    current = current.reset_index(drop=True)
    names, skipped = _columns_to_compare(reference, current, columns, column_types or {})
    base = {"drift_share_threshold": float(drift_share), "reference_rows": len(reference), "current_rows": len(current)}
    if len(reference) < min_rows or len(current) < min_rows:
        return DriftResult.insufficient(len(reference), len(current), min_rows, drift_share_threshold=float(drift_share))

    work = stats.Workspace()
    # scipy warns on zero expected counts and the like; the scores are still the textbook ones.
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        scored = [
            _score(name, column_type, reference[name], current[name], choose, (scales or {}).get(name), work, two_sample)
            for name, column_type in names
        ]
    tested = sum(1 for s in scored if s.test.p_value)
    results = tuple(s.verdict(tested if familywise else 1, min_effect) for s in scored)
    share = sum(result.drifted for result in results) / len(results)
    drifted = bool(share >= drift_share)
    message = f"skipped columns of no drift type: {', '.join(skipped)}" if skipped else ""
    status = DriftStatus.DRIFT if drifted else DriftStatus.OK
    return DriftResult(results, share, drifted, status=status, message=message, **base).checked()


def infer_column_type(series: pd.Series) -> str | None:
    """``num``, ``cat``, ``text``, or None when the column is not compared (see the module's docstring)."""
    import pandas as pd

    name = series.dtype.name
    if name.startswith("float"):
        return "num"
    if name.startswith("int"):
        return "cat" if series.nunique() <= INTEGER_CARDINALITY_LIMIT else "num"
    if name in ("string", "str"):
        return "text" if series.nunique() > series.count() * 0.5 else "cat"
    if name == "object":
        present = series.dropna()
        if present.empty:
            return None
        kind = pd.api.types.infer_dtype(present, skipna=True)
        if kind == "string":
            return "text" if series.nunique() > series.count() * 0.5 else "cat"
        if kind in ("mixed", "mixed-integer") and bool(present.map(_scalar).all()):
            return "cat"  # 'a' and 1: compared as categories
        return None
    if name in ("bool", "category"):
        return "cat"
    return None


def _scalar(value: Any) -> bool:
    return isinstance(value, (str, int, float, bool, np.generic))


@dataclass(frozen=True)
class _Scored:
    column: str
    column_type: str
    test: ColumnTest
    threshold: float
    score: float
    effect: float | None
    fired: bool | None = None  # the test's own verdict, for tests the engine does not compute

    def verdict(self, p_value_tests: int, min_effect: float) -> ColumnDrift:
        threshold = self.threshold / p_value_tests if self.test.p_value and p_value_tests > 1 else self.threshold
        fired = self.fired if self.fired is not None else self.test.judge(self.score, threshold)
        note = ""
        drifted = fired
        if fired and self.effect is not None and self.effect < min_effect:
            drifted = False
            note = f"negligible: the test fired but the effect {self.effect:.3g} is below {min_effect:g}"
        return ColumnDrift(str(self.column), self.column_type, self.test.method, self.score, threshold, bool(drifted), self.effect, note)


def _columns_to_compare(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    columns: Sequence[str] | None,
    column_types: Mapping[str, str],
) -> tuple[list[tuple[str, str]], list[str]]:
    if columns is None:
        only_current = [str(c) for c in current.columns if c not in reference.columns]
        only_reference = [str(c) for c in reference.columns if c not in current.columns]
        requested = list(current.columns)
    else:
        requested = list(columns)
        only_current = [str(c) for c in requested if c in current.columns and c not in reference.columns]
        only_reference = [str(c) for c in requested if c in reference.columns and c not in current.columns]
        missing = [str(c) for c in requested if c not in current.columns and c not in reference.columns]
        if missing:
            raise InvalidValue(f"column {missing[0]!r} is in neither the reference nor the current data")
    for side, names in (("current", only_current), ("reference", only_reference)):
        if names:
            raise InvalidValue(
                f"column {names[0]!r} is only in the {side} data",
                hint="compare data with the same columns, or choose the columns to compare",
            )
    for name, column_type in column_types.items():
        if column_type not in COLUMN_TYPES:
            raise InvalidValue(
                f"unknown type {column_type!r} for column {name!r}: expected one of {', '.join(COLUMN_TYPES)}"
            )
    chosen: list[tuple[str, str]] = []
    skipped: list[str] = []
    for name in requested:
        column_type = column_types.get(name) or infer_column_type(current[name])
        if column_type is None:
            if columns is not None:
                raise InvalidValue(
                    f"cannot compute drift for column {name!r} of type {current[name].dtype}",
                    hint="give it a type with column_types: num, cat or text",
                )
            skipped.append(str(name))
            continue
        chosen.append((name, column_type))
    if not chosen:
        raise InvalidValue("no numeric, categorical or text columns to compare")
    return chosen, skipped


def _chosen(choose: Chooser, facts: ColumnFacts) -> ColumnTest:
    test = choose(facts)
    if not isinstance(test, ColumnTest):
        raise InvalidValue(f"the test chooser returned {type(test).__name__} for column {facts.column!r}, not a ColumnTest")
    if test.run is None:
        known = STATISTICS.get(test.method)
        if known is None:
            raise InvalidValue(f"unknown drift test {test.method!r}: expected one of {', '.join(STATISTICS)}, or a test that runs itself")
        if facts.column_type not in known[0]:
            raise InvalidValue(
                f"drift test {test.method!r} does not apply to column {facts.column!r} of type {facts.column_type}",
                hint=f"it applies to {', '.join(known[0])} columns",
            )
    return test


def _score(
    name: str, column_type: str, reference: pd.Series, current: pd.Series, choose: Chooser, scale: float | None,
    work: stats.Workspace, two_sample: bool,
) -> _Scored:
    if column_type == "num":
        return _numeric(name, reference, current, choose, scale, work, two_sample)
    if column_type == "cat":
        return _categorical(name, reference, current, choose, two_sample)
    return _custom(name, "text", reference.dropna(), current.dropna(), choose)


def _finite(series: pd.Series, name: str, side: str) -> np.ndarray:
    import pandas as pd

    if not pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series):
        raise InvalidValue(f"column {name!r} in the {side} data should contain numbers only, not {series.dtype}")
    values = series.to_numpy(dtype=np.float64, na_value=np.nan)
    finite = np.isfinite(values)
    if not finite.all():
        values = values[finite]
    if values.size == 0:
        raise InvalidValue(f"column {name!r} has no values in the {side} data")
    return values


def _chisquare(counts: stats.Counts, two_sample: bool) -> float:
    return stats.chisquare_two_sample_pvalue(counts) if two_sample else stats.chisquare_pvalue(counts)


def _numeric(
    name: str, reference: pd.Series, current: pd.Series, choose: Chooser, scale: float | None, work: stats.Workspace,
    two_sample: bool,
) -> _Scored:
    ref_values, cur_values, exponent = stats.rescale(_finite(reference, name, "reference"), _finite(current, name, "current"))
    ref_sorted = work.sorted_copy("ref_sorted", ref_values)
    cur_sorted = work.sorted_copy("cur_sorted", cur_values)
    merged = stats.merge_sorted(ref_sorted, cur_sorted, work)
    distinct = 1 + int(np.count_nonzero(merged.deltas))
    test = _chosen(choose, ColumnFacts(str(name), "num", ref_values.size, cur_values.size, distinct))
    if test.run is not None:
        return _custom(name, "num", _present(reference), _present(current), choose, test)

    ref_std = stats.pandas_std(ref_values, work)
    floor = float(np.ldexp(stats.STD_FLOOR, -exponent))
    method = test.method
    counts = stats.counts_from_merged(merged, merged.run_ends()) if method in COUNTED else None
    distance = stats.wasserstein(merged, work) if counts is None else 0.0
    if method == "wasserstein":
        score = distance / max(ref_std, floor)  # stats.wasserstein_norm, the distance computed once
    elif method == "ks":
        score = stats.ks_pvalue(merged, merged.run_ends(), ref_sorted, cur_sorted)
    elif method == "chisquare":
        score = _chisquare(counts, two_sample)
    elif method == "z":
        score = stats.z_pvalue(counts)
    else:
        ref_pct, cur_pct = stats.numeric_percents(merged, ref_sorted, cur_sorted)
        score = stats.jensenshannon(ref_pct, cur_pct) if method == "jensenshannon" else stats.psi(ref_pct, cur_pct)
    if counts is not None:
        effect = stats.total_variation(counts)
    else:
        effect = distance / max(ref_std, floor, float(np.ldexp(scale or 0.0, -exponent)))
    return _Scored(str(name), "num", test, test.threshold, float(score), float(effect))


def _present(series: pd.Series) -> pd.Series:
    import pandas as pd

    if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
        series = series.replace([-np.inf, np.inf], np.nan)
    return series.dropna()


def _categorical(name: str, reference: pd.Series, current: pd.Series, choose: Chooser, two_sample: bool) -> _Scored:
    import pandas as pd

    ref_present, cur_present = _present(reference), _present(current)
    for side, present in (("reference", ref_present), ("current", cur_present)):
        if present.empty:
            raise InvalidValue(f"column {name!r} has no values in the {side} data")
    try:
        codes, uniques = pd.factorize(pd.concat([ref_present, cur_present], ignore_index=True))
    except TypeError as exc:  # unhashable values: lists, dicts
        raise InvalidValue(f"column {name!r} holds values that cannot be counted as categories ({exc})") from None
    n_ref = len(ref_present)
    counts = stats.counts_from_codes(codes[:n_ref], codes[n_ref:], list(uniques))
    test = _chosen(choose, ColumnFacts(str(name), "cat", n_ref, len(cur_present), len(counts.keys)))
    if test.run is not None:
        return _custom(name, "cat", ref_present, cur_present, choose, test)
    method = test.method
    if method == "chisquare":
        score = _chisquare(counts, two_sample)
    elif method == "z":
        score = stats.z_pvalue(counts)
    elif method == "jensenshannon":
        score = stats.jensenshannon(*stats.percents_from_counts(counts))
    else:
        score = stats.psi(*stats.percents_from_counts(counts))
    return _Scored(str(name), "cat", test, test.threshold, float(score), stats.total_variation(counts))


def _custom(
    name: str, column_type: str, reference: pd.Series, current: pd.Series, choose: Chooser, test: ColumnTest | None = None
) -> _Scored:
    """A column judged by a test that runs itself (text columns always are)."""
    import pandas as pd

    for side, present in (("reference", reference), ("current", current)):
        if present.empty:
            raise InvalidValue(f"column {name!r} has no values in the {side} data")
    if test is None:
        distinct = int(pd.concat([reference, current], ignore_index=True).nunique())
        test = _chosen(choose, ColumnFacts(str(name), column_type, len(reference), len(current), distinct))
    if test.run is None:
        raise InvalidValue(f"drift test {test.method!r} cannot judge {column_type} column {name!r}: it needs a test that runs itself")
    score, fired = test.run(reference, current, test.threshold)
    return _Scored(str(name), column_type, test, test.threshold, float(score), None, bool(fired))
