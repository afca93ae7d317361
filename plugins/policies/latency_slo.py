"""Policy ``latency-slo``: latency p95 within the manifest's ``latency_p95_ms_max``."""

from __future__ import annotations

from types import MappingProxyType

from agentgov.core import PolicyResult, Register, Stage, hookimpl
from agentgov.plugins.policies._measured import measured
from agentgov.policies import PolicyContext


def _p95(data: dict) -> object:
    return data.get("latency_p95_ms", (data.get("latency_ms") or {}).get("p95"))


class LatencySlo:
    name = "latency-slo"
    description = "Latency p95, from rollout traffic or else the offline eval, within the manifest's latency_p95_ms_max."
    stages = frozenset({Stage.SHADOW, Stage.CANARY, Stage.PRODUCTION})
    parameters = MappingProxyType({"min_samples": "fewer requests than this is inconclusive (default 100)"})

    def evaluate(self, context: PolicyContext) -> PolicyResult:
        return measured(context, criterion="latency_p95_ms_max", unit=" ms", read=_p95, what="latency p95")


@hookimpl
def agentgov_register_policies(register: Register) -> None:
    register(LatencySlo())
