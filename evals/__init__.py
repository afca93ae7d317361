"""Evaluations: drift of live traffic and what a drift evaluator plugin implements.

The public names a plugin author uses. An evaluator (:class:`Evaluator`,
registered with ``agentgov_register_evaluators``) returns a
:class:`DriftResult` of :class:`ColumnDrift` verdicts; it may render a report
(:class:`ReportingEvaluator`: a :class:`ReportRequest` in, a
:class:`DriftReport` out). To judge columns with the engine's exact
statistics, effect sizes and false-positive control, give :func:`compare` a
chooser that returns a :class:`ColumnTest` for each column's
:class:`ColumnFacts`; :func:`comparable` first turns log rows into comparable
columns (text into its descriptors, scaled by :func:`feature_scales`).
Heavy modules (numpy, pandas) load only when :func:`compare` or
:func:`comparable` is first used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from agentgov.evals.drift_report import DriftReport, ReportRequest
from agentgov.evals.drift_result import ColumnDrift, DriftResult, DriftStatus
from agentgov.evals.protocol import EVALUATORS, Evaluator, ReportingEvaluator

if TYPE_CHECKING:
    from agentgov.evals.drift_compare import MIN_ROWS, ColumnFacts, ColumnTest, compare, infer_column_type
    from agentgov.evals.drift_features import comparable, feature_scales

_LAZY = {
    "MIN_ROWS": "agentgov.evals.drift_compare",
    "ColumnFacts": "agentgov.evals.drift_compare",
    "ColumnTest": "agentgov.evals.drift_compare",
    "compare": "agentgov.evals.drift_compare",
    "infer_column_type": "agentgov.evals.drift_compare",
    "comparable": "agentgov.evals.drift_features",
    "feature_scales": "agentgov.evals.drift_features",
}

__all__ = [
    "EVALUATORS",
    "MIN_ROWS",
    "ColumnDrift",
    "ColumnFacts",
    "ColumnTest",
    "DriftReport",
    "DriftResult",
    "DriftStatus",
    "Evaluator",
    "ReportRequest",
    "ReportingEvaluator",
    "comparable",
    "compare",
    "feature_scales",
    "infer_column_type",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'agentgov.evals' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
