"""Policy ``human-approval``: enough people, other than the registrant, approved this move."""

from __future__ import annotations

from types import MappingProxyType

from agentgov.core import InvalidValue, PolicyResult, Register, Stage, hookimpl
from agentgov.policies import PolicyContext, parse_duration

DEFAULT_BY_TIER = {"low": 1, "medium": 1, "high": 2}


class HumanApproval:
    name = "human-approval"
    description = "Approvals by risk tier, from distinct people, never the registrant, not expired."
    stages = frozenset({Stage.SHADOW, Stage.CANARY, Stage.PRODUCTION})
    parameters = MappingProxyType({
        "approvals_by_tier": "approvals needed per risk tier (default {low = 1, medium = 1, high = 2})",
        "ttl": "an approval older than this no longer counts, like 7d (default: until it expires)",
    })

    def evaluate(self, context: PolicyContext) -> PolicyResult:
        by_tier = {**DEFAULT_BY_TIER, **dict(context.param("approvals_by_tier", {}) or {})}
        tier = context.risk_tier
        needed = by_tier.get(tier)
        if isinstance(needed, bool) or not isinstance(needed, int) or needed < 0:
            raise InvalidValue(f"approvals_by_tier has no valid count for risk tier {tier!r}")
        ttl = context.param("ttl")
        oldest = context.now - parse_duration(ttl) if ttl else None
        counted, ignored = [], []
        for approval in context.approvals:
            if approval.stage is not context.target:
                continue
            if approval.approver == context.registrant:
                ignored.append(f"{approval.approver} (the registrant)")
            elif approval.expired(context.now) or (oldest and approval.at < oldest):
                ignored.append(f"{approval.approver} (expired)")
            elif approval.approver not in counted:
                counted.append(approval.approver)
        note = f"; not counted: {', '.join(ignored)}" if ignored else ""
        evidence = [f"approval by {who}" for who in counted]
        if len(counted) >= needed:
            who = ", ".join(counted) or "nobody needed"
            return context.passed(f"{len(counted)}/{needed} approvals for a {tier}-risk agent ({who}){note}", evidence=evidence, approvals=len(counted))
        how = f"`agentgov approve {context.agent.name} {context.agent.version} --stage {context.target.value}` by someone other than {context.registrant}"
        return context.failed(f"{len(counted)}/{needed} approvals for a {tier}-risk agent{note}; ask for {how}", evidence=evidence, approvals=len(counted))


@hookimpl
def agentgov_register_policies(register: Register) -> None:
    register(HumanApproval())
