from pathlib import Path
from types import MappingProxyType

import pytest

from agentgov.core.config import load_config
from agentgov.core.types import AgentRef, Outcome, PolicyMode, PolicyResult, PolicyStatus, Stage
from agentgov.policies.context import GateRequest
from agentgov.policies.gate import decide, outcome_of
from agentgov.policies.testing import StaticEvidence, agent_version


def _result(status: str, mode: str = "enforce", policy: str = "p") -> PolicyResult:
    return PolicyResult(policy, status, "why", mode=mode)


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        ([], Outcome.ALLOWED),
        (["pass", "warn"], Outcome.ALLOWED),
        (["pass", "fail"], Outcome.BLOCKED),
        (["pass", "error"], Outcome.BLOCKED),
        (["pass", "inconclusive"], Outcome.NEEDS_REVIEW),
        (["inconclusive", "fail"], Outcome.BLOCKED),
    ],
)
def test_enforced_verdicts_combine(statuses: list[str], expected: Outcome) -> None:
    results = [_result(s, policy=f"p{i}") for i, s in enumerate(statuses)]
    assert outcome_of(results, {}) is expected


@pytest.mark.parametrize("mode", ["warn", "dry-run"])
def test_warn_and_dry_run_policies_never_hold_a_promotion(mode: str) -> None:
    assert outcome_of([_result("fail", mode), _result("error", mode), _result("inconclusive", mode)], {}) is Outcome.ALLOWED


def test_an_accepted_inconclusive_verdict_no_longer_waits() -> None:
    assert outcome_of([_result("inconclusive")], {"p": "ann"}) is Outcome.ALLOWED


class _Fixed:
    description = "returns a fixed verdict"
    stages = frozenset({Stage.PRODUCTION})
    parameters = MappingProxyType({"status": "the verdict"})

    def __init__(self, name: str) -> None:
        self.name = name

    def evaluate(self, context):
        return context.result(context.param("status", "pass"), f"{self.name} says so")


@pytest.fixture
def fixed_plugins(agentgov_plugins):
    class Plugin:
        @staticmethod
        def agentgov_register_policies(register):
            for name in ("first", "second", "third"):
                register(_Fixed(name))

    agentgov_plugins.add(Plugin(), "fixed")
    return agentgov_plugins


def _decide(plugins, toml: str, **kwargs):
    Path("agentgov.toml").write_text(toml)
    request = GateRequest(AgentRef("test-agent", version=1), Stage.PRODUCTION, "promoter")
    return decide(load_config(), plugins, request, StaticEvidence(agent_version()), **kwargs)


def test_decide_runs_the_configured_policies_and_explains_the_outcome(fixed_plugins) -> None:
    toml = """
[stages.production.policies.first]
[stages.production.policies.second]
status = "fail"
[stages.production.policies.third]
mode = "dry-run"
status = "error"
"""
    decision = _decide(fixed_plugins, toml)
    assert [(r.policy, r.status, r.mode) for r in decision.results] == [
        ("first", PolicyStatus.PASS, PolicyMode.ENFORCE),
        ("second", PolicyStatus.FAIL, PolicyMode.ENFORCE),
        ("third", PolicyStatus.ERROR, PolicyMode.DRY_RUN),
    ]
    assert decision.outcome is Outcome.BLOCKED
    assert decision.summary == "blocked by second (fail)"
    assert all(r.plugin == "fixed" for r in decision.results)


def test_needs_review_and_acceptance(fixed_plugins) -> None:
    toml = '[stages.production.policies.first]\nstatus = "inconclusive"\n'
    waiting = _decide(fixed_plugins, toml)
    assert waiting.outcome is Outcome.NEEDS_REVIEW and "first inconclusive" in waiting.summary
    accepted = _decide(fixed_plugins, toml, accept_inconclusive={"first": "ann", "second": "ann"})
    assert accepted.outcome is Outcome.ALLOWED
    assert dict(accepted.accepted) == {"first": "ann"}  # only what was inconclusive is recorded as accepted


def test_the_config_hash_changes_with_parameters_and_modes(fixed_plugins) -> None:
    base = _decide(fixed_plugins, "[stages.production.policies.first]\n").config_hash
    assert _decide(fixed_plugins, "[stages.production.policies.first]\n").config_hash == base
    assert _decide(fixed_plugins, '[stages.production.policies.first]\nstatus = "pass"\n').config_hash != base
    assert _decide(fixed_plugins, '[stages.production.policies.first]\nmode = "warn"\n').config_hash != base


def test_an_isolated_policy_runs_through_the_gate_and_changes_the_config_hash(fixed_plugins) -> None:
    in_thread = _decide(fixed_plugins, '[stages.production.policies.first]\nstatus = "fail"\n')
    isolated = _decide(fixed_plugins, '[stages.production.policies.first]\nstatus = "fail"\nisolation = "process"\n')
    assert [(r.policy, r.status, r.reason, r.plugin) for r in isolated.results] == [("first", PolicyStatus.FAIL, "first says so", "fixed")]
    assert isolated.outcome is Outcome.BLOCKED
    assert isolated.config_hash != in_thread.config_hash
    assert _decide(fixed_plugins, '[stages.production]\nisolation = "thread"\n[stages.production.policies.first]\nstatus = "fail"\n').config_hash == in_thread.config_hash


def test_no_policies_allows_and_says_how_to_configure(agentgov_plugins) -> None:
    decision = _decide(agentgov_plugins, "")
    assert decision.allowed and decision.results == ()
    assert decision.summary == "no policy guards production: allowed (configure [stages.production.policies] in agentgov.toml)"
