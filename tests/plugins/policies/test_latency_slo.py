from agentgov.plugins.policies.latency_slo import LatencySlo
from agentgov.policies import policy_context
from agentgov.registry.model import TAG_EVAL, TAG_ROLLOUT

POLICY = LatencySlo()
SLO = {"success_criteria": {"latency_p95_ms_max": 200}}


def _check(evidence: dict | None, manifest: dict | None = SLO):
    return POLICY.evaluate(policy_context(POLICY.name, evidence=evidence, manifest=manifest))


def test_eval_latency_within_the_slo_passes() -> None:
    assert _check({TAG_EVAL: {"samples": 300, "latency_ms": {"p50": 40, "p95": 150, "p99": 400}}}).status == "pass"


def test_rollout_latency_over_the_slo_fails() -> None:
    result = _check({TAG_ROLLOUT: {"requests": 1000, "latency_p95_ms": 260.0}})
    assert result.status == "fail" and "latency p95 260 ms exceeds 200 ms" in result.reason


def test_no_latency_measured_is_an_error() -> None:
    assert _check({TAG_EVAL: {"samples": 300}}).status == "error"
