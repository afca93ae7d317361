"""Policy ``cost-budget``: cost per task within the manifest's ``cost_per_task_max``."""

from __future__ import annotations

from types import MappingProxyType

from agentgov.core import PolicyResult, Register, Stage, hookimpl
from agentgov.plugins.policies._measured import measured
from agentgov.policies import PolicyContext


class CostBudget:
    name = "cost-budget"
    description = "Cost per task, from rollout traffic or else the offline eval, within the manifest's cost_per_task_max."
    stages = frozenset({Stage.SHADOW, Stage.CANARY, Stage.PRODUCTION})
    parameters = MappingProxyType({"min_samples": "fewer tasks than this is inconclusive (default 100)"})

    def evaluate(self, context: PolicyContext) -> PolicyResult:
        return measured(
            context, criterion="cost_per_task_max", unit="", read=lambda data: data.get("cost_per_task"), what="cost per task"
        )


@hookimpl
def agentgov_register_policies(register: Register) -> None:
    register(CostBudget())
