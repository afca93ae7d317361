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


# -- time limits the interpreter cannot enforce ----------------------------------------------------

CATASTROPHIC = r"(a+)+$"  # backtracks 2**n times on "a" * n + "b", holding the GIL throughout


def _hold_the_gil(context, n: int = 23):
    import re

    re.match(CATASTROPHIC, "a" * n + "b")  # about 0.3-0.6 s in one C call (n = 23): no other thread runs meanwhile
    return context.passed("took my time")


def test_an_answer_that_arrives_after_the_deadline_is_an_error() -> None:
    result = _run(_hold_the_gil, timeout_s=0.1)
    assert result.status == "error"
    assert "ran past its time limit of 0.1 s" in result.reason and "(plugin plugin-x)" in result.reason
    assert result.seconds > 0.1


def test_a_policy_calling_sys_exit_is_an_error_naming_its_plugin() -> None:
    import sys

    result = _run(lambda c: sys.exit(0))
    assert result.status == "error" and result.reason == "called sys.exit(0) (plugin plugin-x)"


# -- isolation = "process" ---------------------------------------------------------------------------


def _in_process(behaviour, *, timeout_s: float = 10.0, name: str = "p", evidence=None):
    registered = Registered(_Policy(name, behaviour), "plugin-x")
    request = GateRequest(AgentRef("test-agent", version=1), Stage.PRODUCTION, "promoter", overrides={"p": "sev1"})
    configured = ConfiguredPolicy(name, PolicyMode.ENFORCE, {"limit": [1, 2]}, timeout_s, isolation="process")
    return run_policy(configured, registered, request, evidence or StaticEvidence(agent_version()))


def _reads_everything(context):
    import os

    assert os.getpid() != PARENT, "ran in the gate's own process"
    print("a policy's output must not reach agentgov's stdout")
    assert context.manifest_text() == "name: test-agent\n"
    assert [a.approver for a in context.approvals] == ["ann"]
    assert context.production is None and context.override == "sev1"
    assert context.param("limit") == [1, 2]
    return context.passed(f"read {context.version.ref} of {context.registrant}", evidence=["/report.html"], n=3.0)


PARENT = __import__("os").getpid()


def test_an_isolated_policy_reads_the_evidence_through_the_gate_and_its_verdict_comes_back(capfd) -> None:
    from agentgov.core.types import Approval

    approval = Approval(AgentRef("test-agent", version=1), Stage.PRODUCTION, "ann")
    evidence = StaticEvidence(agent_version(), approvals_=(approval,), manifest_text_="name: test-agent\n")
    result = _in_process(_reads_everything, evidence=evidence)
    assert (result.status, result.reason, result.evidence, dict(result.metrics)) == ("pass", "read test-agent/1 of registrant", ("/report.html",), {"n": 3.0})
    assert (result.mode, result.plugin) == (PolicyMode.ENFORCE, "plugin-x")
    out, err = capfd.readouterr()
    assert "must not reach" not in out and "must not reach" in err
    assert evidence.reads.count("version") == 1  # read once, by the gate


def _os_exit(context):
    import os

    os._exit(0)


def _segfault(context):
    import faulthandler
    import os
    import signal

    faulthandler.disable()  # pytest's, inherited: a crash report on stderr is not what this test is about
    os.kill(os.getpid(), signal.SIGSEGV)


@pytest.mark.parametrize(
    ("behaviour", "reason"),
    [
        (_os_exit, "its process ended with exit status 0 before answering (plugin plugin-x)"),
        (_segfault, "its process was killed by signal SIGSEGV before answering (plugin plugin-x)"),
        (_raise, "raised KeyError: 'missing' (plugin plugin-x)"),
        (lambda c: __import__("sys").exit(0), "called sys.exit(0) (plugin plugin-x)"),
        (lambda c: "pass", "returned str 'pass', not a PolicyResult (plugin plugin-x)"),
        (lambda c: PolicyResult("someone-else", "pass", "ok"), "answered for policy 'someone-else' instead of 'p'"),
        (lambda c: c.load_agent(), 'load_agent() is not available to a policy run with isolation = "process"'),
    ],
)
def test_an_isolated_policy_that_crashes_exits_or_misbehaves_is_an_error(behaviour, reason: str) -> None:
    result = _in_process(behaviour)
    assert result.status == "error"
    assert reason in result.reason


@pytest.mark.parametrize("behaviour", [lambda c: time.sleep(30), lambda c: _hold_the_gil(c, n=30)])
def test_an_isolated_policy_is_killed_at_its_deadline(behaviour) -> None:
    started = time.monotonic()
    result = _in_process(behaviour, timeout_s=0.3)
    assert time.monotonic() - started < 0.3 + 0.5
    assert result.status == "error"
    assert result.reason == "did not answer within its time limit of 0.3 s; its process was killed (plugin plugin-x)"


def test_an_isolated_policy_whose_evidence_does_not_come_is_stopped_at_its_deadline() -> None:
    class Stuck(StaticEvidence):
        def production(self):
            time.sleep(30)  # a registry that does not answer

    started = time.monotonic()
    result = _in_process(lambda c: c.production, timeout_s=0.3, evidence=Stuck(agent_version()))
    assert time.monotonic() - started < 0.3 + 0.5
    assert result.status == "error" and "the evidence it asked for was still being read" in result.reason
