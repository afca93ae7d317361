"""The protocols a drift evaluator plugin implements.

An evaluator compares a current window of an agent's traffic with a reference
and returns a :class:`~agentgov.evals.drift_result.DriftResult`. It may also
render a report people open (:class:`ReportingEvaluator`): the drift check
calls ``render_report`` when the evaluator has one and the verdict is ``ok``
or ``drift``, and records the files it returns with the verdict.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from agentgov.core.plugins import Kind, check_named

if TYPE_CHECKING:
    import pandas as pd

    from agentgov.evals.drift_report import DriftReport, ReportRequest
    from agentgov.evals.drift_result import DriftResult


@runtime_checkable
class Evaluator(Protocol):
    """Compares a current window of data with a reference and reports what changed.

    ``reference`` and ``current`` are pandas frames as the inference log holds
    them (``request.<field>`` and ``response.<field>`` columns; a reference file
    may name request fields plainly). ``options`` are the evaluator's own
    settings. An evaluator that raises, or returns anything but a
    ``DriftResult``, yields a result with status ``error``, which the gate
    treats as a block; so does a score that is NaN or infinite.
    """

    name: str
    description: str

    def evaluate(self, reference: pd.DataFrame, current: pd.DataFrame, **options: Any) -> DriftResult: ...


@runtime_checkable
class ReportingEvaluator(Evaluator, Protocol):
    """An evaluator that also renders a report of a check (optional).

    ``render_report`` writes its files where it likes (under ``request.home``)
    and returns them as a :class:`~agentgov.evals.drift_report.DriftReport`. A
    report that fails to render is a warning: the verdict still stands.
    """

    def render_report(
        self, reference: pd.DataFrame, current: pd.DataFrame, result: DriftResult, request: ReportRequest
    ) -> DriftReport: ...


def check_evaluator(item: Any) -> str | None:
    problem = check_named(item, methods=("evaluate",))
    if problem is None and hasattr(item, "render_report") and not callable(item.render_report):
        return "render_report must be callable"
    return problem


EVALUATORS: Kind[Evaluator] = Kind("evaluator", "agentgov_register_evaluators", check_evaluator)
