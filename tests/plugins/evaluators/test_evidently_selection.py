"""Evidently's choice of test, on the exact engine, gives Evidently 0.7.23's own per-column verdicts.

Every case runs the real ``Report([DataDriftPreset()])`` and ``compute_drift`` with
agentgov's guards off (``EXACT``) on the same frames and compares, per column, the
stattest Evidently chose, its score, its threshold and the drifted flag, and the
data-set verdict. The guards' own effect is tested in ``tests/evals/test_drift_compare.py``
and on this plugin's traffic in ``test_evidently_drift.py``.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest

from agentgov.core import InvalidValue
from agentgov.evals import DriftStatus, infer_column_type
from agentgov.plugins.evaluators.evidently_drift import compute_drift as guarded

REL = 1e-9
EXACT = {"min_effect": 0.0, "familywise": False, "two_sample": False}
"""agentgov's guards off: a negligible effect, the shared false-positive level, the two-sample chi-square."""


def compute_drift(reference: pd.DataFrame, current: pd.DataFrame, **options):
    return guarded(reference, current, **{**EXACT, **options})


@dataclass(frozen=True)
class Verdict:
    method: str
    score: float
    threshold: float
    drifted: bool


def _display_names() -> dict[str, str]:
    from evidently.legacy.calculations.stattests.registry import _registered_stat_tests

    return {test.display_name: name for name, by_type in _registered_stat_tests.items() for test in by_type.values()}


def evidently_drift(reference: pd.DataFrame, current: pd.DataFrame, **preset) -> tuple[dict[str, Verdict], float, bool]:
    """Per-column verdicts, share of drifted columns and data-set drift from a real Evidently report."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Evidently's import-time and pandas deprecation noise
        from evidently import Report
        from evidently.presets import DataDriftPreset

        snapshot = Report([DataDriftPreset(**preset)], include_tests=True).run(current, reference)
        data = snapshot.dict()
    names = _display_names()
    drifted = {
        test["metric_config"]["params"]["column"]: test["status"] == "FAIL"
        for test in data["tests"]
        if test["id"] == "drift"
    }
    verdicts: dict[str, Verdict] = {}
    share = dataset = None
    for metric in data["metrics"]:
        config = metric["config"]
        if config["type"].endswith("ValueDrift"):
            column = config["column"]
            verdicts[column] = Verdict(
                names.get(config["method"], config["method"]), metric["value"], config["threshold"], drifted[column]
            )
        elif config["type"].endswith("DriftedColumnsCount"):
            share = metric["value"]["share"]
    (count_test,) = [test for test in data["tests"] if test["id"] == "lt"]
    dataset = count_test["status"] == "FAIL"
    assert share is not None
    return verdicts, share, dataset


def frames(n_ref: int, n_cur: int, shift: float, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Reference and current frames with one column per case the engine must handle."""
    rng = np.random.default_rng(seed)

    def side(n: int, s: float) -> pd.DataFrame:
        with_nan = rng.normal(s, 1.0, n)
        with_nan[rng.random(n) < 0.1] = np.nan
        with_nan[:2] = [np.inf, -np.inf]
        letters = ["a", "b", "c", "d"] if s else ["a", "b", "c"]  # "d" is unseen in the reference
        labels = rng.choice(["x", "y", "z", None], n, p=[0.4 + s / 4, 0.3, 0.2 - s / 4, 0.1]).astype(object)
        return pd.DataFrame(
            {
                "float_normal": rng.normal(s, 1.0, n),
                "float_nan": with_nan,
                "int_wide": rng.integers(0, 60, n) + round(s * 10),
                "int_few": rng.choice([1, 2, 3], n, p=[0.5 - s / 4, 0.3, 0.2 + s / 4]),
                "float_four_values": rng.choice([0.0, 0.5, 1.0, 1.5], n, p=[0.25 - s / 8, 0.25, 0.25, 0.25 + s / 8]),
                "binary_float": (rng.random(n) < 0.3 + s / 5).astype(float),
                "binary_str": rng.choice(["yes", "no"], n, p=[0.6 - s / 5, 0.4 + s / 5]),
                "bool": rng.random(n) < 0.5 + s / 5,
                "constant": np.full(n, 7.0),
                "category_unseen": rng.choice(letters, n),
                "category_nan": labels,
                "category_dtype": pd.Series(rng.choice(["p", "q", "r"], n, p=[0.5 - s / 4, 0.3, 0.2 + s / 4])).astype(
                    "category"
                ),
                "string_dtype": pd.Series(rng.choice(["u", "v", "w"], n)).astype("string"),
                "nullable_int": pd.Series(rng.integers(0, 50, n)).astype("Int64"),  # Evidently skips it, and so do we
            }
        )

    reference = side(n_ref, 0.0)
    current = side(n_cur, shift)
    current["constant_in_reference"] = rng.normal(3.0, 0.01, n_cur)
    reference["constant_in_reference"] = 3.0
    return reference, current


def assert_same_verdicts(reference: pd.DataFrame, current: pd.DataFrame, **options) -> None:
    preset = {key: value for key, value in options.items() if key in ("columns", "threshold", "drift_share")}
    if "stattest" in options:
        preset["method"] = options["stattest"]
    expected, share, dataset = evidently_drift(reference, current, **preset)
    result = compute_drift(reference, current, **options)

    assert {column.column for column in result.columns} == set(expected)
    for column in result.columns:
        want = expected[column.column]
        got = Verdict(column.method, column.score, column.threshold, column.drifted)
        assert got.method == want.method, column.column
        assert math.isclose(got.score, want.score, rel_tol=REL, abs_tol=0.0), (column.column, got, want)
        assert got.threshold == want.threshold, column.column
        assert got.drifted == want.drifted, (column.column, got, want)
    assert result.share_drifted == pytest.approx(share, rel=REL)
    assert result.dataset_drifted == dataset
    assert result.status == (DriftStatus.DRIFT if dataset else DriftStatus.OK)


SMALL = {"ks", "chisquare", "z"}
LARGE = {"wasserstein", "jensenshannon"}


@pytest.mark.parametrize(
    ("n_ref", "n_cur", "shift", "methods"),
    [
        pytest.param(300, 200, 0.0, SMALL, id="small-unshifted"),
        pytest.param(300, 200, 0.5, SMALL, id="small-shifted"),
        pytest.param(3000, 2000, 0.0, LARGE, id="large-unshifted"),
        pytest.param(3000, 2000, 0.3, LARGE, id="large-shifted"),
        pytest.param(1000, 1500, 0.1, SMALL, id="reference-at-the-1000-row-limit"),
        # Rows are counted after dropping NaN: the columns with NaN fall back to the small-sample tests.
        pytest.param(1001, 700, 0.1, LARGE | {"ks", "chisquare"}, id="reference-just-above-the-limit"),
        pytest.param(800, 12_000, 0.05, SMALL, id="small-reference-asymptotic-ks"),
    ],
)
def test_default_choices_and_scores_equal_evidentlys(n_ref: int, n_cur: int, shift: float, methods: set[str]) -> None:
    reference, current = frames(n_ref, n_cur, shift, seed=n_ref + n_cur)
    assert_same_verdicts(reference, current)
    assert {column.method for column in compute_drift(reference, current).columns} == methods


@pytest.mark.parametrize(
    "options",
    [
        pytest.param({"stattest": "psi"}, id="psi"),
        pytest.param({"stattest": "jensenshannon", "threshold": 0.05}, id="jensenshannon-threshold"),
        pytest.param({"stattest": "ks", "columns": ["float_normal", "float_nan", "int_wide"]}, id="ks"),
        pytest.param(
            {"stattest": "wasserstein", "columns": ["float_normal", "int_wide", "constant"]}, id="wasserstein"
        ),
        pytest.param({"drift_share": 0.2}, id="drift-share"),
    ],
)
def test_chosen_tests_and_thresholds_equal_evidentlys(options: dict) -> None:
    reference, current = frames(2500, 1800, 0.2, seed=7)
    assert_same_verdicts(reference, current, **options)


def requests(rng: np.random.Generator, n: int, extra: tuple[str, ...] = ()) -> pd.Series:
    words = "agent router ticket refund invoice delay shipping login password billing order".split()
    vocabulary = np.array(words + list(extra))
    return pd.Series([" ".join(rng.choice(vocabulary, 6)) + f" #{i}" for i in range(n)])


def test_text_columns_use_evidentlys_text_drift_above_1000_rows() -> None:
    rng = np.random.default_rng(3)
    reference = pd.DataFrame({"request": requests(rng, 1200), "score": rng.normal(size=1200)})
    current = pd.DataFrame({"request": requests(rng, 900, ("crash", "outage")), "score": rng.normal(size=900)})
    assert infer_column_type(current["request"]) == "text"
    assert_same_verdicts(reference, current)
    assert compute_drift(reference, current).column("request").method == "abs_text_content_drift"


def test_text_columns_use_evidentlys_bootstrapped_text_drift_up_to_1000_rows() -> None:
    # Evidently's small-sample text test scores 1,000 random classifiers; the preset would
    # run it three times, so this compares with the single ValueDrift metric the preset is made of.
    rng = np.random.default_rng(4)
    reference = pd.DataFrame({"request": requests(rng, 200)})
    current = pd.DataFrame({"request": requests(rng, 150, ("crash", "outage", "angry"))})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from evidently import Report
        from evidently.metrics import ValueDrift

        data = Report([ValueDrift(column="request")], include_tests=True).run(current, reference).dict()
    (metric,) = data["metrics"]
    (test,) = data["tests"]
    got = compute_drift(reference, current).column("request")
    assert got.method == _display_names()[metric["config"]["method"]] == "perc_text_content_drift"
    assert got.score == pytest.approx(metric["value"], rel=REL)
    assert got.threshold == metric["config"]["threshold"]
    assert got.drifted == (test["status"] == "FAIL")


def test_a_column_on_one_side_only_is_named_in_the_error() -> None:
    reference, current = frames(100, 100, 0.0, seed=1)
    with pytest.raises(InvalidValue, match="'only_here' is only in the current data"):
        compute_drift(reference, current.assign(only_here=1.0))
    with pytest.raises(InvalidValue, match="'only_there' is only in the reference data"):
        compute_drift(reference.assign(only_there=1.0), current)
    with pytest.raises(InvalidValue, match="'only_here' is only in the current data"):
        compute_drift(reference, current.assign(only_here=1.0), columns=["float_normal", "only_here"])


def test_too_few_rows_is_insufficient_data_without_a_verdict() -> None:
    reference, current = frames(500, 20, 0.5, seed=2)
    result = compute_drift(reference, current)
    assert result.status is DriftStatus.INSUFFICIENT_DATA
    assert result.columns == () and not result.dataset_drifted
    assert "20 in the current data" in result.message
    judged = compute_drift(reference, current, min_rows=10)
    assert judged.status is not DriftStatus.INSUFFICIENT_DATA and judged.columns


def test_unusable_columns_and_options_raise_clear_errors() -> None:
    reference, current = frames(100, 100, 0.0, seed=4)
    with pytest.raises(InvalidValue, match="'ks' does not apply to column 'int_few' of type cat"):
        compute_drift(reference, current, stattest="ks")
    with pytest.raises(InvalidValue, match="unknown drift test 'nope'"):
        compute_drift(reference, current, stattest="nope")
    empty = current.assign(float_normal=np.nan)
    with pytest.raises(InvalidValue, match="'float_normal' has no values in the current data"):
        compute_drift(reference, empty)
    with pytest.raises(InvalidValue, match="'binary_str' in the reference data should contain numbers"):
        compute_drift(reference, current, column_types={"binary_str": "num"})


def test_columns_of_no_drift_type_are_skipped_and_named() -> None:
    reference, current = frames(100, 100, 0.0, seed=5)
    stamps = pd.Series(pd.date_range("2026-01-01", periods=100, freq="h"))
    result = compute_drift(reference.assign(when=stamps), current.assign(when=stamps))
    assert "when" not in {column.column for column in result.columns}
    assert "skipped columns of no drift type: nullable_int, when" in result.message


def test_library_warnings_do_not_reach_the_caller() -> None:
    reference, current = frames(300, 200, 0.5, seed=6)  # an unseen category: scipy divides by zero
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = compute_drift(reference, current)
    assert result.column("category_unseen").score == 0.0
    assert caught == []
