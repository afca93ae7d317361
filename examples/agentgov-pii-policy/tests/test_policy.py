"""The policy's verdicts, from contexts built with ``agentgov.policies.policy_context``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from agentgov_pii_policy import NoPiiInOutputs, agentgov_register_policies

from agentgov.policies import policy_context


class ScriptedAgent:
    """An agent whose response to a ticket is looked up by its subject."""

    def __init__(self, replies: dict[str, dict]) -> None:
        self.replies = replies
        self.seen: list[dict] = []

    def act(self, request: dict) -> dict:
        self.seen.append(request)
        return self.replies[request["subject"]]


def write_requests(path: Path, *subjects: str) -> str:
    path.write_text("".join(json.dumps({"subject": s, "body": "..."}) + "\n" for s in subjects), encoding="utf-8")
    return path.name


@pytest.fixture(autouse=True)
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def evaluate(agent: ScriptedAgent, params: dict | None = None, manifest: dict | None = None):
    context = policy_context("no-pii-in-outputs", params=params, manifest=manifest, target="shadow", agent=agent)
    return NoPiiInOutputs().evaluate(context)


def test_fails_naming_the_request_line_and_kind_but_not_the_value(in_tmp: Path) -> None:
    agent = ScriptedAgent({"a": {"action": "reply"}, "b": {"action": "reply", "note": "mail jane.doe@example.com"}})
    result = evaluate(agent, {"requests": write_requests(in_tmp / "requests.jsonl", "a", "b")})
    assert result.status == "fail"
    assert result.evidence == ("requests.jsonl line 2: e-mail address in $.note (j***@***.com)",)
    assert "e-mail address" in result.reason and "jane.doe" not in result.reason + "".join(result.evidence)
    assert result.metrics == {"requests": 2, "findings": 1}
    assert [r["subject"] for r in agent.seen] == ["a", "b"]


def test_passes_when_no_response_holds_personal_data(in_tmp: Path) -> None:
    agent = ScriptedAgent({"a": {"action": "refund", "confidence": 0.92}, "b": {"action": "reply", "ref": "2026-11-24"}})
    result = evaluate(agent, {"requests": write_requests(in_tmp / "requests.jsonl", "a", "b")})
    assert result.status == "pass"
    assert result.reason == "no personal data in the responses to 2 request(s)"


def test_without_a_requests_file_it_runs_the_manifests_example_request() -> None:
    agent = ScriptedAgent({"x": {"reply": "call +44 20 7946 0958"}})
    result = evaluate(agent, manifest={"example_request": {"subject": "x"}})
    assert result.status == "fail"
    assert result.evidence == ("example_request: phone number in $.reply (**********58)",)


def test_evidence_is_capped_but_every_finding_is_counted(in_tmp: Path) -> None:
    agent = ScriptedAgent({"a": {"reply": "call 030 1234567"}})
    result = evaluate(agent, {"requests": write_requests(in_tmp / "r.jsonl", *["a"] * 30)})
    assert result.metrics == {"requests": 30, "findings": 30}
    assert result.reason.startswith("30 piece(s) of personal data (phone number)")
    assert len(result.evidence) == 26
    assert result.evidence[24] == "r.jsonl line 25: phone number in $.reply (********67)"
    assert result.evidence[25] == "... and 5 more"


def test_allowed_kinds_do_not_fail(in_tmp: Path) -> None:
    agent = ScriptedAgent({"a": {"reply": "write to help@example.com"}})
    result = evaluate(agent, {"requests": write_requests(in_tmp / "r.jsonl", "a"), "allow": ["email"]})
    assert result.status == "pass"


@pytest.mark.parametrize(
    ("params", "manifest", "reason"),
    [
        ({"requests": "missing.jsonl"}, None, "requests file missing.jsonl not found"),
        ({"requests": ["a.jsonl"]}, None, "requests must be the path of a JSON Lines file"),
        ({"allow": "email"}, None, "allow must be a list"),
        ({"allow": ["postcode"]}, None, "allow must be a list"),
        ({}, {"example_request": None}, "no evidence: no requests"),
    ],
)
def test_cannot_judge_is_an_error_not_a_pass(params: dict, manifest: dict | None, reason: str) -> None:
    result = evaluate(ScriptedAgent({}), params, manifest)
    assert result.status == "error"
    assert reason in result.reason


@pytest.mark.parametrize(("content", "reason"), [("{not json\n", "line 1 is not JSON"), ("[1]\n", "line 1 is not a JSON object"), ("\n", "holds no requests")])
def test_a_bad_requests_file_is_an_error(in_tmp: Path, content: str, reason: str) -> None:
    (in_tmp / "r.jsonl").write_text(content, encoding="utf-8")
    result = evaluate(ScriptedAgent({}), {"requests": "r.jsonl"})
    assert (result.status, reason in result.reason) == ("error", True)


def test_an_agent_that_raises_is_an_error_naming_the_request(in_tmp: Path) -> None:
    result = evaluate(ScriptedAgent({}), {"requests": write_requests(in_tmp / "r.jsonl", "unknown")})
    assert result.status == "error"
    assert result.reason.startswith("the agent raised on r.jsonl line 1: KeyError")


def test_is_registered_off_by_default_with_its_parameters(agentgov_plugins) -> None:
    import agentgov_pii_policy

    from agentgov.policies import POLICIES, enabled_by_default

    agentgov_plugins.add(agentgov_pii_policy, "pii-policy")
    registered = agentgov_plugins.collect(POLICIES)["no-pii-in-outputs"]
    assert registered.plugin == "pii-policy"
    assert set(registered.item.parameters) == {"requests", "allow"}
    assert not enabled_by_default(registered.item)
    assert agentgov_register_policies is agentgov_pii_policy.agentgov_register_policies
