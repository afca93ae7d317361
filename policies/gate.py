"""The promotion gate: run the policies that guard a stage and decide.

How verdicts combine (only policies in ``enforce`` mode count):

* any ``fail`` or ``error``                         -> ``blocked``
* else any ``inconclusive`` nobody accepted          -> ``needs-review`` (nothing moves)
* else                                               -> ``allowed``

``warn`` policies are shown and recorded; ``dry-run`` policies are recorded
only, to learn what a new policy would do before it is enforced.

The decision is composed only from what the gate itself holds: its own copy
of the request (overrides included), taken as JSON text before any policy
runs, the plan of policies, and each policy's result, copied as JSON text the
moment it returns. No policy can reach those texts; the :class:`Decision` is
built from them after the last policy has answered. Each policy gets its own
read-only context (see :mod:`agentgov.policies.context`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from agentgov.core.config import Config
from agentgov.core.plugins import PluginManager
from agentgov.core.types import Decision, Outcome, PolicyMode, PolicyResult, PolicyStatus
from agentgov.policies.context import Evidence, EvidenceReads, GateRequest
from agentgov.policies.protocol import POLICIES
from agentgov.policies.runner import run_policy
from agentgov.policies.settings import THREAD, ConfiguredPolicy, stage_policies


def config_hash(policies: Sequence[ConfiguredPolicy], versions: Mapping[str, str] | None = None) -> str:
    """SHA-256 of the policy configuration a decision is made under: names, modes,
    parameters, time limits and the plugins (with versions) providing them."""
    canonical = json.dumps(
        [
            {
                "name": p.name, "mode": p.mode.value, "params": dict(p.params), "timeout_s": p.timeout_s, "plugin": (versions or {}).get(p.name, ""),
                **({"isolation": p.isolation} if p.isolation != THREAD else {}),  # a thread is the default: hashes made before stay the same
            }
            for p in policies
        ],
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def outcome_of(results: Sequence[PolicyResult], accepted: Mapping[str, str]) -> Outcome:
    counting = [r for r in results if r.counts]
    if any(r.status.blocks for r in counting):
        return Outcome.BLOCKED
    if any(r.status is PolicyStatus.INCONCLUSIVE and r.policy not in accepted for r in counting):
        return Outcome.NEEDS_REVIEW
    return Outcome.ALLOWED


def decide(
    config: Config,
    plugins: PluginManager,
    request: GateRequest,
    evidence: Evidence,
    *,
    accept_inconclusive: Mapping[str, str] | None = None,
) -> Decision:
    """Evaluate every policy guarding ``request.target`` and return the decision.

    ``accept_inconclusive`` maps policies to the person accepting their
    inconclusive verdict; the caller has checked that person may.
    """
    # What the gate holds while policies run is text or tuples of plain values: nothing a policy can change.
    own = request.to_json()
    accepting = tuple((accept_inconclusive or {}).items())
    available = plugins.collect(POLICIES)
    configured = stage_policies(config, request.target, available)
    versions = {p.name: _plugin_version(plugins, available[p.name].plugin) for p in configured if p.name in available}
    hashed = config_hash(configured, versions)
    plan = tuple((p.name, p.mode.value, p.timeout_s, p.isolation, p.configured, _freeze(p.params)) for p in configured)
    del configured
    reads = EvidenceReads(evidence)
    if plan:
        _read_ahead(reads)
    answers: tuple[str, ...] = ()  # each result as JSON text, copied the moment it returns
    for step in plan:
        policy = _policy(step)
        result = run_policy(policy, available.get(policy.name), GateRequest.from_json(own), reads)
        answers += (json.dumps(result.to_dict()),)

    results = tuple(_checked(PolicyResult.from_dict(json.loads(text)), step) for text, step in zip(answers, plan, strict=True))
    request = GateRequest.from_json(own)
    accepted = {r.policy: dict(accepting)[r.policy] for r in results if r.status is PolicyStatus.INCONCLUSIVE and r.policy in dict(accepting)}
    ran = {r.policy for r in results}
    decision = Decision(
        agent=request.agent,
        target=request.target,
        outcome=outcome_of(results, accepted),
        results=results,
        actor=request.actor,
        config_hash=hashed,
        at=request.at,
        accepted=accepted,
        overrides={k: v for k, v in request.overrides.items() if k in ran},
    )
    return replace(decision, summary=summarise(decision))


def _read_ahead(reads: EvidenceReads) -> None:
    """Read the version before any policy runs, so what the gate keeps is what the registry said."""
    try:
        reads.text("version")
    except Exception:  # each policy that asks for it gets the error, as before
        pass


Step = tuple[str, str, float, str, bool, Any]


def _policy(step: Step) -> ConfiguredPolicy:
    """A fresh :class:`ConfiguredPolicy` from the gate's plan, for one run."""
    name, mode, timeout_s, isolation, configured, params = step
    return ConfiguredPolicy(name, PolicyMode.parse(mode), _thaw(params), timeout_s, configured=configured, isolation=isolation)


def _checked(result: PolicyResult, step: Step) -> PolicyResult:
    """A result as the gate records it: for the policy the gate ran, in the mode the gate planned."""
    name, mode = step[0], PolicyMode.parse(step[1])
    if result.policy != name or result.mode is not mode:
        return PolicyResult(name, PolicyStatus.ERROR, f"the gate's record of {name!r} does not match what it ran", mode=mode, plugin=result.plugin)
    return result


def _freeze(value: Any) -> Any:
    """Parameters as nested tuples (TOML's leaves are immutable already): no policy can edit another's."""
    if isinstance(value, Mapping):
        return ("table", tuple((k, _freeze(v)) for k, v in value.items()))
    if isinstance(value, list | tuple):
        return ("array", tuple(_freeze(v) for v in value))
    return ("value", value)


def _thaw(frozen: Any) -> Any:
    kind, value = frozen
    if kind == "table":
        return {k: _thaw(v) for k, v in value}
    if kind == "array":
        return [_thaw(v) for v in value]
    return value


def summarise(decision: Decision) -> str:
    target = decision.target.value
    if not decision.results:
        return f"no policy guards {target}: allowed (configure [stages.{target}.policies] in agentgov.toml)"
    counting = [r for r in decision.results if r.counts]
    if decision.outcome is Outcome.BLOCKED:
        names = ", ".join(f"{r.policy} ({r.status.value})" for r in counting if r.status.blocks)
        return f"blocked by {names}"
    if decision.outcome is Outcome.NEEDS_REVIEW:
        names = ", ".join(r.policy for r in counting if r.status is PolicyStatus.INCONCLUSIVE and r.policy not in decision.accepted)
        return f"needs review: {names} inconclusive; a person other than the registrant may accept with --accept-inconclusive"
    extra = ""
    warned = [r.policy for r in decision.results if r.status is not PolicyStatus.PASS and not r.counts]
    if warned:
        extra = f"; not enforced: {', '.join(warned)}"
    return f"allowed by {len(counting)} enforced polic{'y' if len(counting) == 1 else 'ies'}{extra}"


def _plugin_version(plugins: PluginManager, plugin: str) -> str:
    for info in plugins.plugins():
        if info.name == plugin:
            return f"{plugin} {info.version or 'built-in'}"
    return plugin
