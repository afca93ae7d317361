"""The protocol a policy plugin implements."""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from agentgov.core.errors import InvalidValue
from agentgov.core.plugins import Kind, check_named
from agentgov.core.types import PolicyResult, Stage, stages


@runtime_checkable
class Policy(Protocol):
    """A rule that decides whether an agent version may enter a stage.

    ``evaluate`` returns a :class:`~agentgov.core.PolicyResult`. A policy that
    raises, hangs or returns anything else counts as ``error``, which blocks.
    """

    name: str
    description: str
    stages: frozenset[Stage]

    def evaluate(self, context: Any) -> PolicyResult: ...


def check_policy(item: Any) -> str | None:
    problem = check_named(item, methods=("evaluate",))
    if problem is None and not hasattr(item, "stages"):
        problem = "it has no stages"
    if problem is None:
        if isinstance(item.stages, str):
            return "stages must be a collection of stage names, not a string"
        try:
            stages(item.stages)
        except (InvalidValue, TypeError) as exc:
            return f"stages: {exc}"
    return problem


POLICIES: Kind[Policy] = Kind("policy", "agentgov_register_policies", check_policy)
