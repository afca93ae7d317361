"""Policy ``data-validation-passed``: the version's datasets met their contracts at registration."""

from __future__ import annotations

from types import MappingProxyType

from agentgov.core import PolicyResult, Register, Stage, hookimpl
from agentgov.policies import PolicyContext


class DataValidationPassed:
    name = "data-validation-passed"
    description = "Every dataset the manifest names passed its Great Expectations suite when the version was registered."
    stages = frozenset({Stage.SHADOW, Stage.CANARY, Stage.PRODUCTION})
    parameters = MappingProxyType({"require_contracts": "fail when no validation was recorded (default true)"})

    def evaluate(self, context: PolicyContext) -> PolicyResult:
        validation = context.data_validation
        if validation is None:
            if context.param("require_contracts", True) is False:
                return context.passed("no data validation recorded, and require_contracts = false")
            return context.no_evidence(
                "no data validation was recorded when this version was registered",
                "name contract suites in agent.yaml, check them with `agentgov data validate`, then register again",
            )
        report = [validation["report"]] if validation.get("report") else []
        suites = validation.get("suites") or {}
        failing = sorted(path for path, result in suites.items() if not result.get("passed"))
        if validation.get("passed") is True and not failing:
            return context.passed(f"{len(suites)} dataset(s) passed their contracts", evidence=report, datasets=len(suites))
        details = ", ".join(f"{path} ({suites[path].get('failed_expectations', '?')} failed)" for path in failing) or "validation did not pass"
        return context.failed(f"data contracts failed: {details}", evidence=report, failing_datasets=len(failing))


@hookimpl
def agentgov_register_policies(register: Register) -> None:
    register(DataValidationPassed())
