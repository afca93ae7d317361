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
