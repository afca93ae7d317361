"""What every version of the support router does with a ticket, through the helpdesk's governed tools.

A version brings only ``classify(request, tier) -> Decision``; this module
looks the customer up (read-only), routes the ticket and sets its priority
(side-effecting), answers simple tickets itself (``auto_reply``) and hands a
ticket to a human (``escalate``) when the classifier is unsure or the ticket is
high-impact. The same file is copied into each version's folder
(``scripts/sync_common.py``), because a registered version packages only its own folder.
"""

from __future__ import annotations

from dataclasses import dataclass

from agentgov.registry.runtime import ToolError

ESCALATE_BELOW = 0.6  # confidence under which a person checks the routing
AUTO_REPLY_FROM = 0.75  # confidence from which a simple question is answered by the agent
HIGH_IMPACT_QUEUES = ("complaint",)  # legal threats, cancellations, data incidents: always a person
HIGH_IMPACT_PRIORITIES = ("urgent",)
REPLY_TEMPLATES = {"general": "faq-answer"}


@dataclass(frozen=True)
class Decision:
    queue: str
    priority: str
    confidence: float


class HelpdeskAgent:
    """``act(request, ctx)``: classify the ticket, then act on it through the ``helpdesk`` connector."""

    router = "abstract"

    def classify(self, request: dict, tier: str) -> Decision:
        raise NotImplementedError

    def act(self, request: dict, ctx) -> dict:
        ticket_id = str(request.get("ticket_id") or "")
        tier = self._tier(request, ctx)
        decision = self.classify(request, tier)
        answer = {
            "ticket_id": ticket_id,
            "queue": decision.queue,
            "priority": decision.priority,
            "confidence": round(decision.confidence, 4),
            "router": self.router,
        }
        try:
            ctx.tools.helpdesk.route_ticket(
                ticket_id=ticket_id,
                subject=str(request.get("subject", ""))[:200],
                channel=str(request.get("channel") or "email"),
                queue=decision.queue,
                routed_by=self.router,
            )
            ctx.tools.helpdesk.set_priority(ticket_id=ticket_id, priority=decision.priority)
            why = self._escalation_reason(decision)
            if why:
                ctx.tools.helpdesk.escalate(ticket_id=ticket_id, reason=why)
                return {**answer, "action": "escalated", "reason": why}
            template = REPLY_TEMPLATES.get(decision.queue)
            if template and decision.priority == "low" and decision.confidence >= AUTO_REPLY_FROM:
                ctx.tools.helpdesk.auto_reply(ticket_id=ticket_id, template=template)
                return {**answer, "action": "auto_replied"}
        except ToolError as exc:  # refused, timed out, failed: the ticket stays where it was, and we say so
            return {**answer, "action": "failed", "reason": f"{exc.outcome}: {exc}"[:200]}
        return {**answer, "action": "routed"}

    @staticmethod
    def _tier(request: dict, ctx) -> str:
        tier = str(request.get("customer_tier") or "free")
        customer = request.get("customer_id")
        if not customer:
            return tier
        try:
            rows = ctx.tools.helpdesk.lookup_customer(customer_id=str(customer))["rows"]
        except ToolError:  # the store is down or unreachable: the ticket's own tier will do
            return tier
        return str(rows[0]["tier"]) if rows else tier

    @staticmethod
    def _escalation_reason(decision: Decision) -> str:
        if decision.queue in HIGH_IMPACT_QUEUES:
            return f"high-impact queue {decision.queue}"
        if decision.priority in HIGH_IMPACT_PRIORITIES:
            return f"priority {decision.priority}"
        if decision.confidence < ESCALATE_BELOW:
            return f"low confidence {decision.confidence:.2f}"
        return ""
