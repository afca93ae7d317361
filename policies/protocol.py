"""The protocol a policy plugin implements."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from agentgov.core.errors import InvalidValue
from agentgov.core.plugins import Kind, check_named
from agentgov.core.types import PolicyResult, Stage, stages

if TYPE_CHECKING:
    from agentgov.policies.context import PolicyContext


@runtime_checkable
class Policy(Protocol):
    """A rule that decides whether an agent version may enter a stage.

    ``stages`` are the stages the policy can guard; ``parameters`` maps each
    parameter it reads from ``agentgov.toml`` to a one-line description (with
    its default). A policy runs for a stage when ``agentgov.toml`` configures
    it there, or, if its ``enabled_by_default`` is true, on every stage in
    ``stages`` that the configuration does not switch off.

    ``evaluate`` returns a :class:`~agentgov.core.PolicyResult` (the context's
    ``passed``/``failed``/... helpers build one). A policy that raises, runs
    past its time limit or returns anything else counts as ``error``.
    """

    name: str
    description: str
    stages: frozenset[Stage]

    def evaluate(self, context: PolicyContext) -> PolicyResult: ...


def parameters_of(policy: object) -> Mapping[str, str]:
    return dict(getattr(policy, "parameters", None) or {})


def enabled_by_default(policy: object) -> bool:
    return getattr(policy, "enabled_by_default", False) is True


def check_policy(item: object) -> str | None:
    problem = check_named(item, methods=("evaluate",))
    if problem is None and not hasattr(item, "stages"):
        problem = "it has no stages"
    if problem is None:
        declared = item.stages  # type: ignore[attr-defined]
        if isinstance(declared, str):
            return "stages must be a collection of stage names, not a string"
        try:
            stages(declared)
        except (InvalidValue, TypeError) as exc:
            return f"stages: {exc}"
        params = getattr(item, "parameters", None)
        if params is not None and (not isinstance(params, Mapping) or not all(isinstance(k, str) for k in params)):
            return "parameters must map parameter names to descriptions"
    return problem


POLICIES: Kind[Policy] = Kind("policy", "agentgov_register_policies", check_policy)
