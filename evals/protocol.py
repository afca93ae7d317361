"""The protocol an evaluator plugin implements."""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from agentgov.core.plugins import Kind, check_named


@runtime_checkable
class Evaluator(Protocol):
    """Compares a current window of data with a reference and reports what changed.

    An evaluator that raises yields a result with status ``error``, which the
    gate treats as a block.
    """

    name: str
    description: str

    def evaluate(self, reference: Any, current: Any, **options: Any) -> Any: ...


def check_evaluator(item: Any) -> str | None:
    return check_named(item, methods=("evaluate",))


EVALUATORS: Kind[Evaluator] = Kind("evaluator", "agentgov_register_evaluators", check_evaluator)
