"""Evaluator ``evidently-drift``: have an agent's inputs and outputs drifted from a reference?

Request fields and outputs (action, label, confidence) are compared column by
column with the statistics Evidently's ``DataDriftPreset`` picks, computed
exactly on all rows by :func:`agentgov.evals.drift_engine.compute_drift`;
text fields are compared through their length and out-of-vocabulary share
(:mod:`agentgov.evals.drift_features`). A crash is a result with status
``error``, never an exception: the gate blocks on it.
"""

from __future__ import annotations

from typing import Any

from agentgov.core import hookimpl
from agentgov.core.hookspecs import Register
from agentgov.evals.drift_result import DriftResult, DriftStatus


class EvidentlyDrift:
    name = "evidently-drift"
    description = "Drift of request features, text descriptors and outputs, with Evidently's DataDriftPreset tests on all rows."

    def evaluate(self, reference: Any, current: Any, **options: Any) -> DriftResult:
        """``options`` go to ``compute_drift`` (``drift_share``, ``stattest``, ``threshold``, ``min_rows``...)."""
        try:
            from agentgov.evals.drift_engine import MIN_ROWS, compute_drift
            from agentgov.evals.drift_features import comparable

            min_rows = int(options.get("min_rows", MIN_ROWS))
            if len(reference) < min_rows or len(current) < min_rows:
                # An empty window has no columns to compare yet: judge its size before its shape.
                return DriftResult(
                    (), 0.0, False, float(options.get("drift_share", 0.5)), len(reference), len(current),
                    DriftStatus.INSUFFICIENT_DATA,
                    message=f"too few rows to judge drift: {len(reference)} in the reference and {len(current)} in the "
                    f"current data, at least {min_rows} needed on each side",
                )
            ref_features, cur_features = comparable(reference, current)
            return compute_drift(ref_features, cur_features, **options)
        except Exception as exc:  # a failed evaluation is evidence too: the gate blocks on status error
            message = f"{type(exc).__name__}: {exc}".strip().splitlines()[0]
            return DriftResult((), 0.0, False, 0.0, _rows(reference), _rows(current), DriftStatus.ERROR, message=message)


def _rows(frame: Any) -> int:
    try:
        return len(frame)
    except Exception:
        return 0


@hookimpl
def agentgov_register_evaluators(register: Register) -> None:
    register(EvidentlyDrift())
