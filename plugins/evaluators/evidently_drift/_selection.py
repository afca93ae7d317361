"""Evidently's ``DataDriftPreset`` choice of test per column, on agentgov's exact engine.

:func:`compute_drift` gives :func:`agentgov.evals.compare` a chooser that picks,
for every column, the statistical test and threshold Evidently 0.7.23's
``DataDriftPreset`` picks by default, so the scores are Evidently's, computed
once per column on all rows (the preset evaluates each column three times and
re-sorts for every statistic).

Evidently's rules, from ``evidently.legacy.calculations.stattests.registry``
(rows and unique values are counted after dropping NaN and infinite values):

=========  ===========================  ==================================================
type       reference rows <= 1000       reference rows > 1000
=========  ===========================  ==================================================
num        <= 2 values: ``z``;          <= 5 values: ``jensenshannon``;
           3-5 values: ``chisquare``;   else ``wasserstein`` (normed by the reference std)
           else ``ks``
cat        <= 2 values: ``z``;          ``jensenshannon``
           else ``chisquare``
text       ``perc_text_content_drift``  ``abs_text_content_drift``
=========  ===========================  ==================================================

Text columns are scored by Evidently's own domain-classifier test, which is a
trained model, not a statistic to vectorise. Three guards are agentgov's, not
Evidently's, and on by default (``min_effect=0, familywise=False,
two_sample=False`` gives Evidently's verdicts exactly): a negligible effect is
not drift, p-value tests share the false-positive level, and the chi-square
test treats the reference as a sample, not the truth (see
:func:`agentgov.evals.compare`).
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from agentgov.core import InvalidValue
from agentgov.evals import MIN_ROWS, ColumnFacts, ColumnTest, DriftResult, compare

if TYPE_CHECKING:
    import pandas as pd

SMALL_SAMPLE_ROWS = 1000
FEW_VALUES = 5
TEXT_TESTS = ("perc_text_content_drift", "abs_text_content_drift")


@dataclass(frozen=True)
class _Test:
    types: tuple[str, ...]
    threshold: float
    drifted: Callable[[float, float], bool]


STATTESTS: dict[str, _Test] = {
    "wasserstein": _Test(("num",), 0.1, operator.ge),
    "ks": _Test(("num",), 0.05, operator.le),
    "chisquare": _Test(("cat",), 0.05, operator.lt),
    "z": _Test(("cat",), 0.05, operator.lt),
    "jensenshannon": _Test(("num", "cat"), 0.1, operator.ge),
    "psi": _Test(("num", "cat"), 0.1, operator.ge),
    "perc_text_content_drift": _Test(("text",), 0.95, operator.ge),
    "abs_text_content_drift": _Test(("text",), 0.55, operator.ge),
}
"""Evidently's stattest name -> the column types it accepts, its default threshold, and
when a score means drift (p-values drift below the threshold, distances at or above)."""


def compute_drift(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    *,
    columns: Sequence[str] | None = None,
    column_types: Mapping[str, str] | None = None,
    scales: Mapping[str, float] | None = None,
    drift_share: float = 0.5,
    stattest: str | Mapping[str, str] | None = None,
    threshold: float | Mapping[str, float] | None = None,
    min_rows: int = MIN_ROWS,
    min_effect: float | None = None,
    familywise: bool = True,
    two_sample: bool = True,
) -> DriftResult:
    """Drift of ``current`` against ``reference``, column by column and for the data set.

    ``stattest`` and ``threshold`` override Evidently's choice for every column (a
    string or number) or per column (a mapping); ``column_types`` maps a column to
    ``num``, ``cat`` or ``text`` instead of inferring it. The data set drifts when
    the share of drifted columns is at least ``drift_share``.
    """
    for name in _named(stattest):
        if name not in STATTESTS:
            raise InvalidValue(f"unknown drift test {name!r}: expected one of {', '.join(STATTESTS)}")
    extra = {} if min_effect is None else {"min_effect": float(min_effect)}
    return compare(
        reference, current, _chooser(stattest, threshold), columns=columns, column_types=column_types, scales=scales,
        drift_share=drift_share, min_rows=min_rows, familywise=familywise, two_sample=two_sample, **extra,
    )


def _named(stattest: str | Mapping[str, str] | None) -> list[str]:
    if stattest is None:
        return []
    return [v for v in stattest.values() if v is not None] if isinstance(stattest, Mapping) else [stattest]


def _per_column(value: Any, name: str) -> Any:
    if isinstance(value, Mapping):
        return value.get(name)
    return value


def _chooser(stattest: str | Mapping[str, str] | None, threshold: float | Mapping[str, float] | None) -> Callable[[ColumnFacts], ColumnTest]:
    def choose(facts: ColumnFacts) -> ColumnTest:
        chosen = _per_column(stattest, facts.column)
        limit = _per_column(threshold, facts.column)
        if chosen is None:
            chosen = _default(facts)
        else:
            accepts = STATTESTS[chosen].types
            if facts.column_type not in accepts:
                raise InvalidValue(
                    f"drift test {chosen!r} does not apply to column {facts.column!r} of type {facts.column_type}",
                    hint=f"it applies to {', '.join(accepts)} columns",
                )
        test = STATTESTS[chosen]
        run = _text_test(facts.column, chosen) if chosen in TEXT_TESTS else None
        return ColumnTest(chosen, test.threshold if limit is None else float(limit), test.drifted, run)

    return choose


def _default(facts: ColumnFacts) -> str:
    """Evidently's choice (the table in the module's docstring)."""
    small = facts.reference_rows <= SMALL_SAMPLE_ROWS
    if facts.column_type == "num":
        if small:
            return ("chisquare" if facts.distinct > 2 else "z") if facts.distinct <= FEW_VALUES else "ks"
        return "jensenshannon" if facts.distinct <= FEW_VALUES else "wasserstein"
    if facts.column_type == "cat":
        if small:
            return "chisquare" if facts.distinct > 2 else "z"
        return "jensenshannon"
    return "perc_text_content_drift" if small else "abs_text_content_drift"


def _text_test(name: str, method: str) -> Callable[[Any, Any, float], tuple[float, bool]]:
    def run(reference: pd.Series, current: pd.Series, threshold: float) -> tuple[float, bool]:
        from evidently.legacy.calculations.stattests.registry import get_registered_stattest
        from evidently.legacy.core import ColumnType

        try:
            result = get_registered_stattest(method, ColumnType.Text)(reference, current, ColumnType.Text, threshold)
        except ValueError as exc:
            if "empty vocabulary" in str(exc):
                raise InvalidValue(
                    f"column {name!r} has no words to compare (only punctuation or stop words): Evidently's text test needs some"
                ) from None
            raise
        return float(result.drift_score), bool(result.drifted)

    return run
