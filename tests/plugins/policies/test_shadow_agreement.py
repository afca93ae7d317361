from agentgov.plugins.policies.shadow_agreement import ShadowAgreement
from agentgov.policies import policy_context
from agentgov.registry.model import TAG_ROLLOUT

POLICY = ShadowAgreement()
GOOD = {
    "requests": 5000, "agreement": 0.985, "error_rate": 0.002, "production_error_rate": 0.001,
    "latency_p95_ms": 110.0, "production_latency_p95_ms": 100.0, "report": "runs:/r/rollout.json",
}


def _check(stats: dict | None, params: dict | None = None):
    return POLICY.evaluate(policy_context(POLICY.name, evidence={TAG_ROLLOUT: stats} if stats else None, params=params))


def test_agreeing_fast_and_reliable_passes() -> None:
    result = _check(GOOD)
    assert result.status == "pass", result.reason
    assert 0.98 < result.metrics["agreement_ci_low"] < 0.985


def test_low_agreement_fails_on_its_lower_bound() -> None:
    assert _check({**GOOD, "requests": 600, "agreement": 0.955}).status == "fail"  # lower bound about 0.935


def test_slower_than_allowed_fails() -> None:
    result = _check({**GOOD, "latency_p95_ms": 150.0})
    assert result.status == "fail" and "1.50x production's" in result.reason


def test_more_errors_than_production_fails() -> None:
    assert "error rate" in _check({**GOOD, "error_rate": 0.02}).reason


def test_too_few_requests_is_inconclusive() -> None:
    assert _check({**GOOD, "requests": 120}).status == "inconclusive"


def test_missing_statistics_fail_or_error() -> None:
    assert _check(None).status == "error"
    assert _check({"requests": 5000, "agreement": 0.99}).status == "fail"  # no latency or error rates to compare
