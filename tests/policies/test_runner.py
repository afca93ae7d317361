"""The gate fails closed: whatever a policy does wrong becomes an ``error`` naming its plugin."""

import time

import pytest

from agentgov.core.plugins import Registered
from agentgov.core.types import AgentRef, PolicyMode, PolicyResult, Stage
from agentgov.policies.context import GateRequest
from agentgov.policies.runner import run_policy
from agentgov.policies.settings import ConfiguredPolicy
from agentgov.policies.testing import StaticEvidence, agent_version


class _Policy:
    description = "test"
    stages = frozenset({Stage.PRODUCTION})

    def __init__(self, name: str, behaviour):
        self.name = name
        self.behaviour = behaviour

    def evaluate(self, context):
        return self.behaviour(context)


def _run(behaviour, *, timeout_s: float = 5.0, mode: PolicyMode = PolicyMode.ENFORCE, name: str = "p"):
    registered = Registered(_Policy(name, behaviour), "plugin-x")
    request = GateRequest(AgentRef("test-agent", version=1), Stage.PRODUCTION, "promoter")
    return run_policy(ConfiguredPolicy(name, mode, {}, timeout_s), registered, request, StaticEvidence(agent_version()))


def test_a_verdict_is_kept_and_stamped_with_mode_plugin_and_time() -> None:
    result = _run(lambda c: c.failed("no", evidence=["/x"], n=1.0), mode=PolicyMode.WARN)
    assert (result.status, result.reason, result.evidence, dict(result.metrics)) == ("fail", "no", ("/x",), {"n": 1.0})
    assert (result.mode, result.plugin) == (PolicyMode.WARN, "plugin-x")
    assert result.seconds >= 0


def _raise(context):
    raise KeyError("missing")


@pytest.mark.parametrize(
    ("behaviour", "reason"),
    [
        (_raise, "raised KeyError: 'missing' (plugin plugin-x)"),
        (lambda c: "pass", "returned str 'pass', not a PolicyResult (plugin plugin-x)"),
        (lambda c: None, "returned NoneType None, not a PolicyResult"),
        (lambda c: PolicyResult("someone-else", "pass", "ok"), "answered for policy 'someone-else' instead of 'p'"),
    ],
)
def test_raising_or_returning_nonsense_is_an_error(behaviour, reason: str) -> None:
    result = _run(behaviour)
    assert result.status == "error"
    assert reason in result.reason


def test_a_policy_past_its_time_limit_is_an_error() -> None:
    started = time.perf_counter()
    result = _run(lambda c: time.sleep(30), timeout_s=0.3)
    assert time.perf_counter() - started < 5
    assert result.status == "error" and "did not answer within its time limit of 0.3 s (plugin plugin-x)" in result.reason


def test_a_policy_no_plugin_provides_is_an_error_with_the_fix() -> None:
    request = GateRequest(AgentRef("test-agent", version=1), Stage.PRODUCTION, "promoter")
    result = run_policy(ConfiguredPolicy("gone", PolicyMode.ENFORCE), None, request, StaticEvidence(agent_version()))
    assert result.status == "error" and "no loaded plugin provides policy 'gone'" in result.reason


def test_a_user_error_inside_a_policy_keeps_its_message() -> None:
    from agentgov.core.errors import InvalidValue

    def bad_params(context):
        raise InvalidValue("windows: start 'soon' is not an ISO date-time")

    assert _run(bad_params).reason == "windows: start 'soon' is not an ISO date-time (plugin plugin-x)"
