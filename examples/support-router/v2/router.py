"""v2 of the support router: TF-IDF character n-grams and logistic regression, trained on the synthetic tickets.

Character n-grams read through typos that defeat v1's keyword rules. The
fitted classifiers are plain files in ``ticket_model/`` (no pickle), written
by ``scripts/train_v2.py``; :mod:`ticket_actions` acts on the decision through the
helpdesk's governed tools.
"""

from __future__ import annotations

from ticket_actions import Decision, HelpdeskAgent
from ticket_model import load


def ticket_text(request: dict) -> str:
    """What the queue classifier reads: the subject and the body."""
    return f"{request.get('subject', '')} . {request.get('body', '')}"


def priority_text(request: dict, tier: str) -> str:
    """What the priority classifier reads: the ticket and the customer's tier as a word of its own."""
    return f"{ticket_text(request)} . tier{tier}tier"


class TfidfRouter(HelpdeskAgent):
    router = "tfidf-logreg"

    def __init__(self) -> None:
        self.classifiers = load()

    def classify(self, request: dict, tier: str) -> Decision:
        queue, confidence = self.classifiers["queue"].predict(ticket_text(request))
        priority, _ = self.classifiers["priority"].predict(priority_text(request, tier))
        return Decision(queue, priority, confidence)
