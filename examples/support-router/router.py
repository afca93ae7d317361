"""A support-ticket router: reads a ticket and decides what to do with it.

Deliberately simple and deterministic, so the governance around it is what
you look at: keyword rules with a confidence, no model download needed.
"""

from __future__ import annotations

RULES = (
    ("refund", ("refund", "money back", "charged twice", "chargeback"), 0.92),
    ("escalate", ("lawyer", "legal", "cancel my account", "furious", "complaint"), 0.88),
    ("technical", ("error", "crash", "bug", "cannot log in", "can't log in", "password reset"), 0.81),
    ("billing", ("invoice", "billing", "payment", "card"), 0.77),
)


class SupportRouter:
    """``act(request) -> response``: routes one ticket."""

    def act(self, request: dict) -> dict:
        text = f"{request.get('subject', '')} {request.get('body', '')}".lower()
        for action, keywords, confidence in RULES:
            if any(keyword in text for keyword in keywords):
                return {"action": action, "confidence": confidence}
        return {"action": "reply", "confidence": 0.55}
