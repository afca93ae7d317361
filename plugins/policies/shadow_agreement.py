"""Policy ``shadow-agreement``: on mirrored traffic, the candidate agrees with production
and is no worse in errors or latency."""

from __future__ import annotations

from types import MappingProxyType

from agentgov.core import PolicyResult, Register, Stage, hookimpl, number, wilson_interval
from agentgov.policies import PolicyContext


class ShadowAgreement:
    name = "shadow-agreement"
    description = "Agreement with production on mirrored traffic (lower 95% bound), error rate and latency p95 relative to production."
    stages = frozenset({Stage.CANARY, Stage.PRODUCTION})
    parameters = MappingProxyType({
        "min_requests": "fewer paired requests than this is inconclusive (default 500)",
        "min_agreement": "lowest agreement with production, lower 95% bound (default 0.95)",
        "max_latency_ratio": "highest candidate/production latency p95 (default 1.2)",
        "max_error_rate_increase": "highest error rate above production's (default 0.005)",
    })

    def evaluate(self, context: PolicyContext) -> PolicyResult:
        stats = context.rollout
        if stats is None:
            return context.no_evidence("no shadow or canary statistics for this version", "run a shadow rollout first")
        evidence = [stats["report"]] if stats.get("report") else []
        requests = number(stats.get("requests"))
        if requests is None:
            return context.result("error", "rollout statistics have no request count", evidence=evidence)
        min_requests = int(context.param("min_requests", 500))
        if requests < min_requests:
            return context.inconclusive(f"only {requests:g} mirrored requests; at least {min_requests} are needed", evidence=evidence, requests=requests)
        problems, checks = [], []
        metrics: dict[str, float] = {"requests": requests}
        agreement = number(stats.get("agreement"))
        if agreement is None:
            problems.append("no agreement measured")
        else:
            low = wilson_interval(agreement * requests, int(requests))[0]
            metrics["agreement_ci_low"] = low
            minimum = float(context.param("min_agreement", 0.95))
            (checks if low >= minimum else problems).append(f"agreement lower bound {low:.3f} vs minimum {minimum:g}")
        latency, base = number(stats.get("latency_p95_ms")), number(stats.get("production_latency_p95_ms"))
        if latency is not None and base:
            ratio = latency / base
            metrics["latency_ratio"] = ratio
            limit = float(context.param("max_latency_ratio", 1.2))
            (checks if ratio <= limit else problems).append(f"latency p95 {latency:g} ms is {ratio:.2f}x production's (limit {limit:g}x)")
        else:
            problems.append("no latency p95 for the candidate and production")
        errors, base_errors = number(stats.get("error_rate")), number(stats.get("production_error_rate"))
        if errors is not None and base_errors is not None:
            limit = float(context.param("max_error_rate_increase", 0.005))
            metrics["error_rate_increase"] = errors - base_errors
            (checks if errors - base_errors <= limit else problems).append(f"error rate {errors:.4f} vs production {base_errors:.4f} (allowed +{limit:g})")
        else:
            problems.append("no error rates for the candidate and production")
        if problems:
            return context.failed("; ".join(problems), evidence=evidence, **metrics)
        return context.passed("; ".join(checks), evidence=evidence, **metrics)


@hookimpl
def agentgov_register_policies(register: Register) -> None:
    register(ShadowAgreement())
