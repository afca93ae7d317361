"""A policy cannot talk the gate into allowing a promotion.

Each attack is a real policy plugin registered on the plugin manager and
configured before the policy it tries to defeat (in ``dry-run`` mode, so its
own verdict never counts): it reaches for the shared request, the shared
evidence or another policy's result by every ordinary means a plugin has (the
objects it is handed, ``object.__setattr__`` past ``frozen``, the garbage
collector's list of live objects), then returns ``pass``. The promotion must
stay blocked, for the reason the honest policy gave.
"""

from __future__ import annotations

import gc
import json
from collections.abc import Callable, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest

from agentgov.core.config import load_config
from agentgov.core.types import AgentRef, Outcome, PolicyResult, PolicyStatus, Stage
from agentgov.policies.context import GateRequest
from agentgov.policies.gate import decide
from agentgov.policies.testing import StaticEvidence, agent_version, policy_context
from agentgov.registry.model import TAG_EVAL, AgentVersion

FREEZE = '[stages.production.policies.change-freeze]\nwindows = [{ start = "2000-01-01T00:00:00+00:00", end = "2999-01-01T00:00:00+00:00", reason = "year-end freeze" }]\n'
FORGED_EVAL = json.dumps({"samples": 5000, "task_success": {"rate": 0.99}, "error_rate": 0.0})


def _try(*attacks: Callable[[], Any]) -> list[str]:
    """Run each attack; what it raised, if anything (a read-only view raises TypeError or AttributeError)."""
    failed = []
    for attack in attacks:
        try:
            attack()
        except Exception as exc:
            failed.append(type(exc).__name__)
    return failed


def _writable(mapping: Any) -> dict:
    """The dict under a read-only ``MappingProxyType``, as the garbage collector hands it out."""
    return mapping if isinstance(mapping, dict) else next(o for o in gc.get_referents(mapping) if isinstance(o, dict))


def _holds_the_freeze(o: object) -> bool:
    """A dict holding the configured freeze windows (the configuration's or any copy of it): what an attacker empties.

    Only those: emptying every dict with a "windows" key also broke other libraries' classes in the test process
    (Great Expectations' models keep their fields in such a dict, ``windows`` among them)."""
    windows = o.get("windows") if isinstance(o, dict) else None
    return isinstance(windows, list | tuple) and any(isinstance(w, Mapping) and w.get("reason") == "year-end freeze" for w in windows)


class _Attacker:
    description = "a policy that tries to change what the gate decides"
    stages = frozenset({Stage.PRODUCTION})

    def __init__(self, name: str, attack: Callable[[Any], None]) -> None:
        self.name = name
        self.attack = attack

    def evaluate(self, context):
        self.attack(context)
        return context.passed("nothing to see here")


class _Fails:
    description = "always fails"
    stages = frozenset({Stage.PRODUCTION})

    def __init__(self, name: str = "victim") -> None:
        self.name = name

    def evaluate(self, context):
        return context.failed("this version must not ship")


def _gate(agentgov_plugins, toml: str, *policies: object, version: AgentVersion | None = None, overrides: dict[str, str] | None = None):
    class Plugin:
        @staticmethod
        def agentgov_register_policies(register):
            for policy in policies:
                register(policy)

    agentgov_plugins.add(Plugin(), "attackers")
    Path("agentgov.toml").write_text(toml)
    request = GateRequest(AgentRef("test-agent", version=1), Stage.PRODUCTION, "promoter", overrides=overrides or {})
    return decide(load_config(), agentgov_plugins, request, StaticEvidence(version or agent_version()))


def _by_policy(decision) -> dict[str, PolicyResult]:
    return {r.policy: r for r in decision.results}


def test_a_policy_cannot_add_an_override_to_the_shared_request(agentgov_plugins) -> None:
    def add_override(context) -> None:
        _try(
            lambda: context.request.overrides.__setitem__("change-freeze", "forged"),
            lambda: object.__setattr__(context.request, "overrides", {"change-freeze": "forged"}),
            lambda: [
                object.__setattr__(o, "overrides", {"change-freeze": "forged"}) for o in gc.get_objects() if isinstance(o, GateRequest)
            ],
            lambda: [_writable(o.overrides).__setitem__("change-freeze", "forged") for o in gc.get_objects() if isinstance(o, GateRequest)],
            lambda: [o.__setitem__("windows", []) for o in gc.get_objects() if _holds_the_freeze(o)],  # its parameters
        )

    toml = '[stages.production.policies.sneaky]\nmode = "dry-run"\n' + FREEZE
    decision = _gate(agentgov_plugins, toml, _Attacker("sneaky", add_override))

    freeze = _by_policy(decision)["change-freeze"]
    assert freeze.status is PolicyStatus.FAIL and "inside freeze window (year-end freeze)" in freeze.reason
    assert dict(decision.overrides) == {}
    assert decision.outcome is Outcome.BLOCKED


def test_a_real_override_still_reaches_the_policy_and_the_record(agentgov_plugins) -> None:
    decision = _gate(agentgov_plugins, FREEZE, overrides={"change-freeze": "sev1 fix, INC-123", "not-configured": "x"})
    freeze = _by_policy(decision)["change-freeze"]
    assert freeze.status is PolicyStatus.WARN and "sev1 fix, INC-123" in freeze.reason
    assert dict(decision.overrides) == {"change-freeze": "sev1 fix, INC-123"}
    assert decision.outcome is Outcome.ALLOWED


def test_a_policy_cannot_forge_evidence_another_policy_reads(agentgov_plugins) -> None:
    def forge(context) -> None:
        version = context.version
        _try(
            lambda: version.tags.__setitem__(TAG_EVAL, FORGED_EVAL),
            lambda: object.__setattr__(version, "tags", {**version.tags, TAG_EVAL: FORGED_EVAL}),
            lambda: [
                object.__setattr__(o, "tags", {**o.tags, TAG_EVAL: FORGED_EVAL}) for o in gc.get_objects() if isinstance(o, AgentVersion)
            ],
            lambda: [_writable(o.tags).__setitem__(TAG_EVAL, FORGED_EVAL) for o in gc.get_objects() if isinstance(o, AgentVersion)],
        )

    version = agent_version(
        manifest={"success_criteria": {"task_success_min": 0.8}},
        evidence={TAG_EVAL: {"samples": 500, "task_success": {"rate": 0.5}, "error_rate": 0.01}},
    )
    toml = '[stages.production.policies.forger]\nmode = "dry-run"\n[stages.production.policies.eval-thresholds]\n'
    decision = _gate(agentgov_plugins, toml, _Attacker("forger", forge), version=version)

    thresholds = _by_policy(decision)["eval-thresholds"]
    assert thresholds.status is PolicyStatus.FAIL and "task success lower bound 0.4" in thresholds.reason
    assert decision.outcome is Outcome.BLOCKED


def test_a_policy_cannot_flip_a_result_already_returned_or_demote_a_policy_still_to_run(agentgov_plugins) -> None:
    from agentgov.core.types import PolicyMode
    from agentgov.policies.settings import ConfiguredPolicy

    def flip(context) -> None:
        for o in gc.get_objects():
            if isinstance(o, PolicyResult) and o.policy == "victim":
                object.__setattr__(o, "status", PolicyStatus.PASS)
            if isinstance(o, list) and any(isinstance(r, PolicyResult) and r.policy == "victim" for r in o):
                o[:] = [context.passed("flipped") if isinstance(r, PolicyResult) else r for r in o]
            if isinstance(o, ConfiguredPolicy) and o.name == "next-victim":
                object.__setattr__(o, "mode", PolicyMode.DRY_RUN)

    toml = (
        '[stages.production.policies.victim]\n[stages.production.policies.flipper]\nmode = "dry-run"\n'
        "[stages.production.policies.next-victim]\n"
    )
    decision = _gate(agentgov_plugins, toml, _Fails(), _Attacker("flipper", flip), _Fails("next-victim"))

    results = _by_policy(decision)
    assert results["victim"].status is PolicyStatus.FAIL
    assert (results["next-victim"].status, results["next-victim"].mode) == (PolicyStatus.FAIL, PolicyMode.ENFORCE)
    assert decision.outcome is Outcome.BLOCKED
    assert decision.summary == "blocked by victim (fail), next-victim (fail)"


def test_each_policy_sees_its_own_read_only_request_evidence_and_parameters() -> None:
    context = policy_context(
        "p", params={"windows": [{"days": ["fri"]}]}, overrides={"p": "why"}, evidence={TAG_EVAL: {"samples": 1}}
    )
    with pytest.raises(TypeError):
        context.request.overrides["p"] = "other"  # type: ignore[index]
    with pytest.raises(TypeError):
        context.version.tags[TAG_EVAL] = "{}"  # type: ignore[index]
    with pytest.raises(TypeError):
        context.params["windows"] = []  # type: ignore[index]
    assert isinstance(context.request.overrides, MappingProxyType)
    context.eval_results["samples"] = 2  # parsed afresh on each read: changing a copy changes nothing
    assert context.eval_results == {"samples": 1}
    assert context.params["windows"] == [{"days": ["fri"]}]  # the types policies check for (lists, dicts) are kept
