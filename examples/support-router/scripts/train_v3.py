"""Train v3's heads on sentence embeddings of the SYNTHETIC training split; write them into ``v3/embedding_head/``.

Needs the optional ``gpu`` extra (torch, sentence-transformers and the offline
all-MiniLM-L6-v2 package); without it this prints why, in one line, and exits
with status 2. Encodes on CUDA when present, on the CPU otherwise::

    python examples/support-router/scripts/train_v3.py
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]
V3 = HERE / "v3"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, help="train on the first ROWS tickets of the split (default: all)")
    parser.add_argument("--out", type=Path, default=V3 / "embedding_head", help="where the heads go")
    args = parser.parse_args(argv)
    for folder in (HERE / "data", V3):
        if str(folder) not in sys.path:
            sys.path.insert(0, str(folder))
    import embedding_head
    import generate_tickets

    reason = embedding_head.missing_extra()
    if reason:
        print(reason, file=sys.stderr)
        return 2
    from router import ticket_text
    from sklearn.linear_model import LogisticRegression

    train = generate_tickets.tickets("train", rows=args.rows)
    held_out = generate_tickets.tickets("eval")
    started = time.perf_counter()
    model = embedding_head.encoder()
    vectors = embedding_head.embed(model, [ticket_text(r) for r in train])
    inputs = {"queue": vectors, "priority": embedding_head.with_tier(vectors, [r["customer_tier"] for r in train])}
    heads = {t: LogisticRegression(C=10.0, max_iter=2000).fit(x, [r[t] for r in train]) for t, x in inputs.items()}
    embedding_head.export(heads, args.out)
    loaded = embedding_head.load(args.out)
    trained = time.perf_counter() - started
    test = embedding_head.embed(model, [ticket_text(r) for r in held_out])
    queues = loaded["queue"].predict(test)
    priorities = loaded["priority"].predict(embedding_head.with_tier(test, [r["customer_tier"] for r in held_out]))
    queue_accuracy = sum(q == r["queue"] for (q, _), r in zip(queues, held_out, strict=True)) / len(held_out)
    priority_accuracy = sum(p == r["priority"] for (p, _), r in zip(priorities, held_out, strict=True)) / len(held_out)
    print(
        f"trained on {len(train)} synthetic tickets ({embedding_head.device()}) in {trained:.1f} s; wrote {args.out}; "
        f"eval ({len(held_out)}): queue accuracy {queue_accuracy:.3f}, priority accuracy {priority_accuracy:.3f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
