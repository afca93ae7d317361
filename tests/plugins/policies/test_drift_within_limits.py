from agentgov.plugins.policies.drift_within_limits import DriftWithinLimits
from agentgov.policies import policy_context
from agentgov.registry.model import TAG_DRIFT

POLICY = DriftWithinLimits()


def _drift(status: str = "ok", drifted: tuple[str, ...] = (), columns: tuple[str, ...] = ("a", "b", "c", "d")) -> dict:
    cols = [{"column": c, "column_type": "num", "method": "wasserstein", "score": 0.2 if c in drifted else 0.01, "threshold": 0.1, "drifted": c in drifted} for c in columns]
    return {"columns": cols, "share_drifted": len(drifted) / len(columns), "status": status, "current_rows": 5000, "report": "/home/reports/drift.html"}


def _check(drift: dict | None, target: str = "production", params: dict | None = None):
    return POLICY.evaluate(policy_context(POLICY.name, evidence={TAG_DRIFT: drift} if drift else None, target=target, params=params))


def test_within_the_share_passes() -> None:
    result = _check(_drift(drifted=("a",)))
    assert result.status == "pass" and result.metrics["share_drifted"] == 0.25


def test_too_many_drifted_columns_fail() -> None:
    result = _check(_drift(status="drift", drifted=("a", "b")), params={"max_drift_share": 0.3})
    assert result.status == "fail" and "50% of columns drifted" in result.reason
    assert result.evidence == ("/home/reports/drift.html",)


def test_a_drifted_key_column_fails_even_under_the_share() -> None:
    result = _check(_drift(drifted=("c",)), params={"columns": ["c"]})
    assert result.status == "fail" and "key column(s) drifted: c (wasserstein" in result.reason


def test_a_key_column_missing_from_the_result_fails() -> None:
    assert "not in the drift result: z" in _check(_drift(), params={"columns": ["z"]}).reason


def test_insufficient_data_fails_production_and_waits_elsewhere() -> None:
    assert _check(_drift(status="insufficient-data"), target="production").status == "fail"
    assert _check(_drift(status="insufficient-data"), target="canary").status == "inconclusive"


def test_an_evaluator_error_is_an_error() -> None:
    assert _check({"status": "error", "message": "boom"}).status == "error"


def test_no_drift_result_is_an_error() -> None:
    assert _check(None).status == "error"
