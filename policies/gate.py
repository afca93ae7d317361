"""The promotion gate: run the policies that guard a stage and decide.

How verdicts combine (only policies in ``enforce`` mode count):

* any ``fail`` or ``error``                         -> ``blocked``
* else any ``inconclusive`` nobody accepted          -> ``needs-review`` (nothing moves)
* else                                               -> ``allowed``

``warn`` policies are shown and recorded; ``dry-run`` policies are recorded
only, to learn what a new policy would do before it is enforced.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import replace

from agentgov.core.config import Config
from agentgov.core.plugins import PluginManager
from agentgov.core.types import Decision, Outcome, PolicyResult, PolicyStatus
from agentgov.policies.context import Evidence, GateRequest
from agentgov.policies.protocol import POLICIES
from agentgov.policies.runner import run_policy
from agentgov.policies.settings import ConfiguredPolicy, stage_policies


def config_hash(policies: Sequence[ConfiguredPolicy], versions: Mapping[str, str] | None = None) -> str:
    """SHA-256 of the policy configuration a decision is made under: names, modes,
    parameters, time limits and the plugins (with versions) providing them."""
    canonical = json.dumps(
        [
            {"name": p.name, "mode": p.mode.value, "params": dict(p.params), "timeout_s": p.timeout_s, "plugin": (versions or {}).get(p.name, "")}
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
    available = plugins.collect(POLICIES)
    configured = stage_policies(config, request.target, available)
    results = tuple(run_policy(p, available.get(p.name), request, evidence) for p in configured)
    accepted = {
        r.policy: (accept_inconclusive or {})[r.policy]
        for r in results
        if r.status is PolicyStatus.INCONCLUSIVE and r.policy in (accept_inconclusive or {})
    }
    outcome = outcome_of(results, accepted)
    versions = {p.name: _plugin_version(plugins, available[p.name].plugin) for p in configured if p.name in available}
    decision = Decision(
        agent=request.agent,
        target=request.target,
        outcome=outcome,
        results=results,
        actor=request.actor,
        config_hash=config_hash(configured, versions),
        at=request.at,
        accepted=accepted,
        overrides={k: v for k, v in request.overrides.items() if any(r.policy == k for r in results)},
    )
    return replace(decision, summary=summarise(decision))


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
