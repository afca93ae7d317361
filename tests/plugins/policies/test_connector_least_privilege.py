from agentgov.plugins.policies.connector_least_privilege import ConnectorLeastPrivilege
from agentgov.policies import policy_context

POLICY = ConnectorLeastPrivilege()


def _check(scopes: list[str], target: str = "production", params: dict | None = None):
    manifest = {"connectors": [{"name": "helpdesk", "kind": "zendesk", "scopes": scopes}]}
    return POLICY.evaluate(policy_context(POLICY.name, manifest=manifest, target=target, params=params))


def test_narrow_scopes_pass() -> None:
    assert _check(["tickets:read", "tickets:write"]).status == "pass"


def test_wildcards_fail_in_production_only() -> None:
    assert "wildcard" in _check(["tickets:*"]).reason
    assert _check(["*"]).status == "fail"
    assert _check(["tickets:*"], target="shadow").status == "pass"


def test_admin_scopes_fail_everywhere() -> None:
    assert _check(["tickets:admin"], target="shadow").status == "fail"
    assert _check(["admin:users"]).status == "fail"


def test_scopes_outside_the_allowed_patterns_fail() -> None:
    result = _check(["tickets:read", "tickets:write"], target="shadow", params={"allowed_scopes": ["tickets:read", "kb:*"]})
    assert result.status == "fail" and "helpdesk: tickets:write is not in the scopes shadow allows" in result.reason
    assert _check(["kb:search"], target="shadow", params={"allowed_scopes": ["kb:*"]}).status == "pass"


def test_a_malformed_allow_list_is_an_error() -> None:
    assert _check(["tickets:read"], params={"allowed_scopes": "tickets:read"}).status == "error"
