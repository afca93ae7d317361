from agentgov.plugins.policies.data_validation_passed import DataValidationPassed
from agentgov.policies import policy_context
from agentgov.registry.model import TAG_DATA_VALIDATION

POLICY = DataValidationPassed()


def _check(**kwargs):
    return POLICY.evaluate(policy_context(POLICY.name, **kwargs))


def test_passes_when_every_suite_passed() -> None:
    summary = {"passed": True, "suites": {"data/eval.csv": {"passed": True, "failed_expectations": 0}}, "report": "runs:/r/data_validation/report.html"}
    result = _check(evidence={TAG_DATA_VALIDATION: summary})
    assert result.status == "pass"
    assert result.evidence == ("runs:/r/data_validation/report.html",)


def test_fails_naming_each_failing_dataset() -> None:
    summary = {"passed": False, "suites": {"a.csv": {"passed": True}, "b.csv": {"passed": False, "failed_expectations": 3}}}
    result = _check(evidence={TAG_DATA_VALIDATION: summary})
    assert result.status == "fail"
    assert "b.csv (3 failed)" in result.reason and "a.csv" not in result.reason


def test_a_summary_that_claims_success_with_a_failing_suite_fails() -> None:
    summary = {"passed": True, "suites": {"b.csv": {"passed": False, "failed_expectations": 1}}}
    assert _check(evidence={TAG_DATA_VALIDATION: summary}).status == "fail"


def test_no_validation_recorded_is_an_error_not_a_pass() -> None:
    result = _check()
    assert result.status == "error"
    assert result.reason.startswith("no evidence:")


def test_require_contracts_false_lets_an_agent_without_contracts_through() -> None:
    assert _check(params={"require_contracts": False}).status == "pass"
