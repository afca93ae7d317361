from agentgov.plugins.policies.cost_budget import CostBudget
from agentgov.policies import policy_context
from agentgov.registry.model import TAG_EVAL, TAG_ROLLOUT

POLICY = CostBudget()
BUDGET = {"success_criteria": {"cost_per_task_max": 0.002}}


def _check(evidence: dict | None, manifest: dict | None = BUDGET, params: dict | None = None):
    return POLICY.evaluate(policy_context(POLICY.name, evidence=evidence, manifest=manifest, params=params))


def test_within_budget_passes_and_over_fails() -> None:
    assert _check({TAG_EVAL: {"samples": 500, "cost_per_task": 0.0015}}).status == "pass"
    result = _check({TAG_EVAL: {"samples": 500, "cost_per_task": 0.003}})
    assert result.status == "fail" and "exceeds 0.002" in result.reason


def test_rollout_traffic_wins_over_the_offline_eval() -> None:
    evidence = {TAG_EVAL: {"samples": 500, "cost_per_task": 0.001}, TAG_ROLLOUT: {"requests": 900, "cost_per_task": 0.004}}
    result = _check(evidence)
    assert result.status == "fail" and "(rollout, 900 samples)" in result.reason


def test_few_samples_are_inconclusive() -> None:
    assert _check({TAG_EVAL: {"samples": 10, "cost_per_task": 0.001}}).status == "inconclusive"


def test_no_measurement_is_an_error_and_no_budget_a_warning() -> None:
    assert _check(None).status == "error"
    assert _check({TAG_EVAL: {"samples": 500, "cost_per_task": 0.001}}, manifest={}).status == "warn"
