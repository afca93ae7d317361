"""The exact drift engine: Evidently's ``DataDriftPreset`` verdicts, computed once per column.

``compute_drift`` picks, for every column, the statistical test and threshold that
Evidently 0.7.23's ``DataDriftPreset`` picks by default, and computes the same
score (see ``drift_stats``), so its per-column verdicts are Evidently's, at a
fraction of the time: the preset evaluates each column three times and re-sorts
for every statistic; this sorts each numeric column once.

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

Column types are inferred from the current data as ``evidently.Dataset.from_pandas``
does (floats numeric; integers numeric above 10 distinct values, else
categorical; strings categorical, or text when more than half the values are
distinct; bools and pandas categoricals categorical); other columns (dates, mixed
objects) are skipped and named in the result's message. Text columns are scored
by Evidently's own domain-classifier test, which is a trained model, not a
statistic to vectorise.
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

SMALL_SAMPLE_ROWS = 1000
FEW_VALUES = 5
INTEGER_CARDINALITY_LIMIT = 10
BINNED_MIN_UNIQUE = 20  # numeric columns with more distinct reference values are binned (Sturges)


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
    drift_share: float = 0.5,
    stattest: str | Mapping[str, str] | None = None,
    threshold: float | Mapping[str, float] | None = None,
    min_rows: int = MIN_ROWS,
) -> DriftResult:
    """Drift of ``current`` against ``reference``, column by column and for the data set.

    ``stattest`` and ``threshold`` override Evidently's choice for every column (a
    string or number) or per column (a mapping); ``column_types`` maps a column to
    ``num``, ``cat`` or ``text`` instead of inferring it. The data set drifts when
    the share of drifted columns is at least ``drift_share``.
    """
    names, skipped = _columns_to_compare(reference, current, columns, column_types or {})
    base = {
        "drift_share_threshold": float(drift_share),
        "reference_rows": len(reference),
        "current_rows": len(current),
    }
    if len(reference) < min_rows or len(current) < min_rows:
        message = (
            f"too few rows to judge drift: {len(reference)} in the reference and {len(current)} in the current data, "
            f"at least {min_rows} needed on each side"
        )
        return DriftResult((), 0.0, False, status=DriftStatus.INSUFFICIENT_DATA, message=message, **base)

    # scipy warns on zero expected counts and the like; the scores are still Evidently's.
    work = stats.Workspace()
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        results = tuple(
            _column_drift(
                name,
                column_type,
                reference[name],
                current[name],
                _per_column(stattest, name),
                _per_column(threshold, name),
                work,
            )
            for name, column_type in names
        )
    share = sum(result.drifted for result in results) / len(results)
    drifted = bool(share >= drift_share)
    message = f"skipped columns of no drift type: {', '.join(skipped)}" if skipped else ""
    status = DriftStatus.DRIFT if drifted else DriftStatus.OK
    return DriftResult(results, share, drifted, status=status, message=message, **base)


def infer_column_type(series: pd.Series) -> str | None:
    """The type ``evidently.Dataset.from_pandas`` infers: ``num``, ``cat``, ``text`` or None (not compared)."""
    name = series.dtype.name
    if name.startswith("float"):
        return "num"
    if name.startswith("int"):
        return "cat" if series.nunique() <= INTEGER_CARDINALITY_LIMIT else "num"
    if name in ("string", "str"):
        return "text" if series.nunique() > series.count() * 0.5 else "cat"
    if name == "object":
        present = series.dropna()
        if present.empty or not (isinstance(present.iloc[0], str) and isinstance(present.iloc[-1], str)):
            return None
        return "text" if series.nunique() > series.count() * 0.5 else "cat"
    if name in ("bool", "category"):
        return "cat"
    return None


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


def _per_column(value: Any, name: str) -> Any:
    if isinstance(value, Mapping):
        return value.get(name)
    return value


def _choose(name: str, column_type: str, stattest: str, threshold: float | None) -> tuple[str, _Test, float]:
    test = STATTESTS.get(stattest)
    if test is None:
        raise InvalidValue(f"unknown drift test {stattest!r}: expected one of {', '.join(STATTESTS)}")
    if column_type not in test.types:
        raise InvalidValue(
            f"drift test {stattest!r} does not apply to column {name!r} of type {column_type}",
            hint=f"it applies to {', '.join(test.types)} columns",
        )
    return stattest, test, test.threshold if threshold is None else float(threshold)


def _column_drift(
    name: str,
    column_type: str,
    reference: pd.Series,
    current: pd.Series,
    stattest: str | None,
    threshold: float | None,
    work: stats.Workspace,
) -> ColumnDrift:
    if column_type == "num":
        method, score, test, limit = _numeric(name, reference, current, stattest, threshold, work)
    elif column_type == "cat":
        method, score, test, limit = _categorical(name, reference, current, stattest, threshold)
    else:
        return _text(name, reference, current, stattest, threshold)
    return ColumnDrift(str(name), column_type, method, score, limit, bool(test.drifted(score, limit)))


def _finite(series: pd.Series, name: str, side: str) -> np.ndarray:
    import pandas as pd

    if not pd.api.types.is_numeric_dtype(series):
        raise InvalidValue(f"column {name!r} in the {side} data should contain numbers only, not {series.dtype}")
    values = series.to_numpy(dtype=np.float64, na_value=np.nan)
    finite = np.isfinite(values)
    if not finite.all():
        values = values[finite]
    if values.size == 0:
        raise InvalidValue(f"column {name!r} has no values in the {side} data")
    return values


def _numeric(
    name: str,
    reference: pd.Series,
    current: pd.Series,
    stattest: str | None,
    threshold: float | None,
    work: stats.Workspace,
) -> tuple[str, float, _Test, float]:
    ref_values = _finite(reference, name, "reference")
    cur_values = _finite(current, name, "current")
    ref_sorted = work.sorted_copy("ref_sorted", ref_values)
    cur_sorted = work.sorted_copy("cur_sorted", cur_values)
    merged = stats.merge_sorted(ref_sorted, cur_sorted, work)
    if stattest is None:
        n_values = 1 + int(np.count_nonzero(merged.deltas))
        if ref_values.size <= SMALL_SAMPLE_ROWS:
            stattest = ("chisquare" if n_values > 2 else "z") if n_values <= FEW_VALUES else "ks"
        else:
            stattest = "jensenshannon" if n_values <= FEW_VALUES else "wasserstein"
        method, test = stattest, STATTESTS[stattest]
        limit = test.threshold if threshold is None else float(threshold)
    else:
        method, test, limit = _choose(name, "num", stattest, threshold)

    if method == "wasserstein":
        score = stats.wasserstein_norm(merged, stats.pandas_std(ref_values, work), work)
    elif method == "ks":
        score = stats.ks_pvalue(merged, merged.run_ends(), ref_sorted, cur_sorted)
    elif method in ("chisquare", "z"):
        counts = stats.counts_from_merged(merged, merged.run_ends())
        score = stats.chisquare_pvalue(counts) if method == "chisquare" else stats.z_pvalue(counts)
    else:
        ref_unique = 1 + int(np.count_nonzero(np.diff(ref_sorted)))
        if ref_unique > BINNED_MIN_UNIQUE:
            ref_pct, cur_pct = stats.sturges_percents(merged, ref_sorted, cur_sorted)
        else:
            ref_pct, cur_pct = stats.percents_from_counts(stats.counts_from_merged(merged, merged.run_ends()))
        score = stats.jensenshannon(ref_pct, cur_pct) if method == "jensenshannon" else stats.psi(ref_pct, cur_pct)
    return method, score, test, limit


def _present(series: pd.Series) -> pd.Series:
    import pandas as pd

    if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
        series = series.replace([-np.inf, np.inf], np.nan)
    return series.dropna()


def _categorical(
    name: str, reference: pd.Series, current: pd.Series, stattest: str | None, threshold: float | None
) -> tuple[str, float, _Test, float]:
    import pandas as pd

    ref_present, cur_present = _present(reference), _present(current)
    for side, present in (("reference", ref_present), ("current", cur_present)):
        if present.empty:
            raise InvalidValue(f"column {name!r} has no values in the {side} data")
    codes, uniques = pd.factorize(pd.concat([ref_present, cur_present], ignore_index=True))
    n_ref = len(ref_present)
    counts = stats.counts_from_codes(codes[:n_ref], codes[n_ref:], list(uniques))
    if stattest is None:
        if n_ref <= SMALL_SAMPLE_ROWS:
            stattest = "chisquare" if len(counts.keys) > 2 else "z"
        else:
            stattest = "jensenshannon"
        method, test = stattest, STATTESTS[stattest]
        limit = test.threshold if threshold is None else float(threshold)
    else:
        method, test, limit = _choose(name, "cat", stattest, threshold)

    if method == "chisquare":
        score = stats.chisquare_pvalue(counts)
    elif method == "z":
        score = stats.z_pvalue(counts)
    elif method == "jensenshannon":
        score = stats.jensenshannon(*stats.percents_from_counts(counts))
    else:
        score = stats.psi(*stats.percents_from_counts(counts))
    return method, score, test, limit


def _text(
    name: str, reference: pd.Series, current: pd.Series, stattest: str | None, threshold: float | None
) -> ColumnDrift:
    ref_present, cur_present = reference.dropna(), current.dropna()
    for side, present in (("reference", ref_present), ("current", cur_present)):
        if present.empty:
            raise InvalidValue(f"column {name!r} has no values in the {side} data")
    if stattest is None:
        stattest = "abs_text_content_drift" if len(ref_present) > SMALL_SAMPLE_ROWS else "perc_text_content_drift"
    method, _, limit = _choose(name, "text", stattest, threshold)

    from evidently.legacy.calculations.stattests.registry import get_registered_stattest
    from evidently.legacy.core import ColumnType

    result = get_registered_stattest(method, ColumnType.Text)(ref_present, cur_present, ColumnType.Text, limit)
    return ColumnDrift(str(name), "text", method, float(result.drift_score), limit, bool(result.drifted))
