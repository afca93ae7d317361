"""v1 of the support router: keyword rules with a fixed confidence per rule (the example's first router).

It decides a queue and a priority; :mod:`ticket_actions` acts on the decision
through the helpdesk's governed tools.
"""

from __future__ import annotations

from ticket_actions import Decision, HelpdeskAgent

RULES = (
    ("refund", ("refund", "money back", "charged twice", "chargeback"), 0.92),
    ("complaint", ("lawyer", "legal", "cancel my account", "furious", "complaint"), 0.88),
    ("technical", ("error", "crash", "bug", "cannot log in", "can't log in", "password reset"), 0.81),
    ("billing", ("invoice", "billing", "payment", "card"), 0.77),
)
FALLBACK = ("general", 0.55)
BASE_PRIORITY = {"refund": 1, "billing": 0, "technical": 1, "complaint": 2, "general": 0}
URGENT = ("urgent", "asap", "blocked")
PRIORITIES = ("low", "normal", "high", "urgent")


class KeywordRouter(HelpdeskAgent):
    router = "keyword-rules"

    def classify(self, request: dict, tier: str) -> Decision:
        text = f"{request.get('subject', '')} {request.get('body', '')}".lower()
        queue, confidence = next(((q, c) for q, words, c in RULES if any(w in text for w in words)), FALLBACK)
        level = BASE_PRIORITY[queue] + (tier == "enterprise") + any(w in text for w in URGENT)
        return Decision(queue, PRIORITIES[min(level, len(PRIORITIES) - 1)], confidence)
