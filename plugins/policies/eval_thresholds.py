"""Policy ``eval-thresholds``: offline eval results meet the manifest's success criteria.

Judged on the confidence interval, not the point estimate: the lower bound of
task success must reach ``task_success_min`` and the upper bound of the error
rate must stay under ``error_rate_max``. Below ``min_samples`` the verdict is
inconclusive rather than a pass or fail on noise.
"""

from __future__ import annotations

from types import MappingProxyType

from agentgov.core import PolicyResult, Register, Stage, hookimpl, number, wilson_interval
from agentgov.policies import PolicyContext


class EvalThresholds:
    name = "eval-thresholds"
    description = "Offline eval meets success_criteria (task success lower 95% bound, error-rate upper bound)."
    stages = frozenset({Stage.SHADOW, Stage.CANARY, Stage.PRODUCTION})
    parameters = MappingProxyType({"min_samples": "fewer eval samples than this is inconclusive (default 100)"})

    def evaluate(self, context: PolicyContext) -> PolicyResult:
        results = context.eval_results
        if results is None:
            return context.no_evidence("no offline eval results for this version", f"run `agentgov eval {context.agent.name} {context.agent.version}`")
        evidence = [results["report"]] if results.get("report") else []
        samples = number(results.get("samples"))
        if samples is None:
            return context.result("error", "eval results have no sample count", evidence=evidence)
        min_samples = int(context.param("min_samples", 100))
        if samples < min_samples:
            return context.inconclusive(f"only {samples:g} eval samples; at least {min_samples} are needed to judge", evidence=evidence, samples=samples)
        criteria = context.success_criteria
        checks: list[str] = []
        failures: list[str] = []
        metrics: dict[str, float] = {"samples": samples}
        if "task_success_min" in criteria:
            success = results.get("task_success") or {}
            rate = number(success.get("rate"))
            low = number(success.get("ci_low"))
            if low is None and rate is not None:
                low = wilson_interval(rate * samples, int(samples))[0]
            if low is None:
                failures.append("eval results have no task success rate")
            else:
                metrics["task_success_ci_low"] = low
                line = f"task success lower bound {low:.3f} vs minimum {criteria['task_success_min']:g}"
                (checks if low >= criteria["task_success_min"] else failures).append(line)
        if "error_rate_max" in criteria:
            rate = number(results.get("error_rate"))
            if rate is None:
                failures.append("eval results have no error rate")
            else:
                high = wilson_interval(rate * samples, int(samples))[1]
                metrics["error_rate_ci_high"] = high
                line = f"error rate upper bound {high:.4f} vs maximum {criteria['error_rate_max']:g}"
                (checks if high <= criteria["error_rate_max"] else failures).append(line)
        if failures:
            return context.failed("; ".join(failures), evidence=evidence, **metrics)
        if not checks:
            return context.warned("the manifest sets neither task_success_min nor error_rate_max: nothing to check", evidence=evidence, **metrics)
        return context.passed("; ".join(checks), evidence=evidence, **metrics)


@hookimpl
def agentgov_register_policies(register: Register) -> None:
    register(EvalThresholds())
