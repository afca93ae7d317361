"""Evaluator ``evidently-drift``: have an agent's inputs and outputs drifted from a reference?

Request fields and outputs (action, label, confidence) are compared column by
column with the tests Evidently's ``DataDriftPreset`` picks, computed exactly
on all rows by agentgov's drift engine (:func:`agentgov.evals.compare`, with
the choice of test in :mod:`._selection`); text fields are compared through
their length and out-of-vocabulary share (:func:`agentgov.evals.comparable`).
A negligible change is not drift, and the tests share the false-positive level
(see :func:`agentgov.evals.compare`). A crash is a result with status
``error``, never an exception: the gate blocks on it.

It also renders Evidently's HTML report and JSON snapshot of each check (on a
sample, :mod:`._report`) and keeps them in a local Evidently workspace, one
project per agent: ``agentgov drift list|open|ui`` read them through the
functions exported here. Evidently itself is imported only when a report is
rendered or a text column is compared.

Written as a third-party plugin would be: it imports only the public names of
``agentgov.core`` and ``agentgov.evals``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from agentgov.core import Register, hookimpl
from agentgov.evals import DriftReport, DriftResult, ReportRequest

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "EvidentlyDrift",
    "compute_drift",
    "list_reports",
    "reports_dir",
    "workspace_dir",
    "workspace_runs",
]


class EvidentlyDrift:
    name = "evidently-drift"
    description = "Drift of request features, text descriptors and outputs, with Evidently's DataDriftPreset tests on all rows."

    def evaluate(self, reference: pd.DataFrame, current: pd.DataFrame, **options: Any) -> DriftResult:
        """``options`` go to :func:`compute_drift` (``drift_share``, ``stattest``, ``threshold``, ``min_rows``...)."""
        try:
            from agentgov.evals import MIN_ROWS, comparable, feature_scales

            min_rows = int(options.get("min_rows", MIN_ROWS))
            drift_share = float(options.get("drift_share", 0.5))
            if len(reference) < min_rows or len(current) < min_rows:
                # An empty window has no columns to compare yet: judge its size before its shape.
                return DriftResult.insufficient(len(reference), len(current), min_rows, drift_share_threshold=drift_share)
            ref_features, cur_features = comparable(reference, current)
            options = {"scales": feature_scales(ref_features.columns), **options}
            return compute_drift(ref_features, cur_features, **options)
        except Exception as exc:  # a failed evaluation is evidence too: the gate blocks on status error
            return DriftResult.failed(f"{type(exc).__name__}: {exc}", reference_rows=_rows(reference), current_rows=_rows(current))

    def render_report(
        self, reference: pd.DataFrame, current: pd.DataFrame, result: DriftResult, request: ReportRequest
    ) -> DriftReport:
        """Evidently's report of the compared columns, added to the agent's project in the workspace."""
        import dataclasses

        from agentgov.evals import comparable

        from ._report import SAMPLE_ROWS, add_to_workspace, render

        ref_features, cur_features = comparable(reference, current)
        report, snapshot = render(
            ref_features,
            cur_features,
            directory=reports_dir(request.home, request.agent),
            stamp=request.stamp,
            title=request.title,
            verdict=request.verdict,
            sample_rows=int(request.options.get("sample_rows", SAMPLE_ROWS)),
        )
        project, snapshot_id = add_to_workspace(request.home, request.agent, snapshot)
        return dataclasses.replace(report, workspace_project=project, workspace_snapshot=snapshot_id)


def compute_drift(reference: pd.DataFrame, current: pd.DataFrame, **options: Any) -> DriftResult:
    """Evidently's per-column tests on the exact engine (see :mod:`._selection`); raises on bad input."""
    from ._selection import compute_drift as compute

    return compute(reference, current, **options)


def reports_dir(home: Path, agent: str) -> Path:
    """Where the agent's HTML reports and JSON snapshots are: ``<home>/reports/drift/<agent>``."""
    return Path(home) / "reports" / "drift" / agent


def list_reports(home: Path, agent: str) -> list[Path]:
    """The agent's HTML reports, oldest first."""
    from ._report import list_reports as listed

    return listed(home, agent)


def workspace_dir(home: Path) -> Path:
    """The local Evidently workspace: one project per agent, one snapshot per check."""
    return Path(home) / "evidently"


def workspace_runs(home: Path, agent: str) -> list[str]:
    """The snapshot ids in the agent's workspace project (none when there is no project)."""
    from ._report import workspace_runs as runs

    return runs(home, agent)


def _rows(frame: Any) -> int:
    try:
        return len(frame)
    except Exception:
        return 0


@hookimpl
def agentgov_register_evaluators(register: Register) -> None:
    register(EvidentlyDrift())
