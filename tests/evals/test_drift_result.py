"""Drift results are frozen values that survive a JSON round trip."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys

import pytest

from agentgov.core.errors import InvalidValue
from agentgov.evals.drift_result import ColumnDrift, DriftResult, DriftStatus


def sample() -> DriftResult:
    return DriftResult(
        columns=(
            ColumnDrift("latency", "num", "wasserstein", 0.31, 0.1, True),
            ColumnDrift("channel", "cat", "jensenshannon", 0.02, 0.1, False),
        ),
        share_drifted=0.5,
        dataset_drifted=True,
        drift_share_threshold=0.5,
        reference_rows=5000,
        current_rows=4200,
        status="drift",
    )


def test_a_result_round_trips_through_json() -> None:
    result = sample()
    again = DriftResult.from_dict(json.loads(json.dumps(result.to_dict())))
    assert again == result
    assert again.status is DriftStatus.DRIFT
    assert again.drifted_columns == ("latency",)
    assert again.column("channel").method == "jensenshannon"


def test_results_are_frozen_and_validated() -> None:
    result = sample()
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.status = DriftStatus.OK  # type: ignore[misc]
    with pytest.raises(InvalidValue, match="unknown drift status 'drifting'"):
        DriftResult.from_dict({**result.to_dict(), "status": "drifting"})
    with pytest.raises(InvalidValue, match="unknown column type 'numeric'"):
        ColumnDrift("latency", "numeric", "ks", 0.2, 0.05, False)
    with pytest.raises(InvalidValue, match="no drift result for column 'nope'"):
        result.column("nope")


def test_reading_a_result_imports_no_heavy_library() -> None:
    probe = (
        "import sys\nimport agentgov.evals.drift_result\n"
        "print(','.join(m for m in ('pandas', 'numpy', 'scipy', 'evidently') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.strip() == ""


def test_effects_and_notes_round_trip_and_old_tags_still_read() -> None:
    column = ColumnDrift("body:oov_share", "num", "ks", 0.0001, 0.0167, False, effect=0.013, note="negligible: ...")
    assert ColumnDrift.from_dict(json.loads(json.dumps(column.to_dict()))) == column
    old = {k: v for k, v in sample().columns[0].to_dict().items() if k not in ("effect", "note")}
    assert ColumnDrift.from_dict(old) == sample().columns[0]


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_a_score_that_is_not_a_number_fails_closed(bad: float) -> None:
    result = dataclasses.replace(sample(), status=DriftStatus.OK, columns=(ColumnDrift("x", "num", "wasserstein", bad, 0.1, False),))
    checked = result.checked()
    assert checked.status is DriftStatus.ERROR and checked.columns == ()
    assert checked.message == f"column 'x': the wasserstein score is {bad!r}, not a number a verdict can rest on"
    with_effect = dataclasses.replace(result, columns=(ColumnDrift("x", "num", "ks", 0.5, 0.05, False, effect=bad),))
    assert with_effect.checked().message == f"column 'x': the effect is {bad!r}, not a number a verdict can rest on"
    no_threshold = dataclasses.replace(result, columns=(ColumnDrift("x", "num", "ks", 0.5, bad, False),))
    assert no_threshold.checked().message == f"column 'x': the threshold is {bad!r}, not a number a verdict can rest on"
    assert sample().checked() is sample() or sample().checked() == sample()


def test_failed_and_insufficient_results_say_why_in_one_line() -> None:
    failed = DriftResult.failed("ValueError: boom\nmore lines", reference_rows=3, current_rows=4)
    assert (failed.status, failed.message, failed.reference_rows, failed.current_rows) == (DriftStatus.ERROR, "ValueError: boom", 3, 4)
    thin = DriftResult.insufficient(500, 12, 30)
    assert thin.status is DriftStatus.INSUFFICIENT_DATA and "12 in the current data, at least 30" in thin.message
