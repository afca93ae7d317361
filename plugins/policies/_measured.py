"""What ``cost-budget`` and ``latency-slo`` share: a measured value against a manifest limit,
taken from rollout traffic when there is some, else from the offline eval."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from agentgov.core import PolicyResult, number
from agentgov.policies import PolicyContext


def measured(context: PolicyContext, *, criterion: str, unit: str, read: Callable[[dict], Any], what: str) -> PolicyResult:
    limit = context.success_criteria.get(criterion)
    sources = [("rollout", context.rollout, "requests"), ("eval", context.eval_results, "samples")]
    found = [(name, data, number(data.get(count))) for name, data, count in sources if data is not None and number(read(data)) is not None]
    if not found:
        return context.no_evidence(f"no {what} measured for this version", f"run `agentgov eval {context.agent.name} {context.agent.version}` or a rollout")
    source, data, samples = found[0]
    evidence = [data["report"]] if data.get("report") else []
    value = number(read(data))
    assert value is not None
    min_samples = int(context.param("min_samples", 100))
    if samples is None or samples < min_samples:
        return context.inconclusive(f"{what} from {source} rests on {samples or 0:g} samples; at least {min_samples} are needed", evidence=evidence, value=value)
    if limit is None:
        return context.warned(f"{what} is {value:g}{unit} ({source}); the manifest sets no {criterion}", evidence=evidence, value=value)
    if value <= limit:
        return context.passed(f"{what} {value:g}{unit} within {limit:g}{unit} ({source}, {samples:g} samples)", evidence=evidence, value=value)
    return context.failed(f"{what} {value:g}{unit} exceeds {limit:g}{unit} ({source}, {samples:g} samples)", evidence=evidence, value=value)
