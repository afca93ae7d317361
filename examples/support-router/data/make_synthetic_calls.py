"""Write ``synthetic_calls.csv`` beside this file: a day of SYNTHETIC traffic for ``agentgov log import`` and ``agentgov drift``.

Not real customer data. The tickets come from the same generator as the eval
set (``make_eval_data.py``, another seed), so they are new tickets of the same
kind, and the example router answers each one; times are spread over the day
before 2026-11-24 12:00 UTC, latencies drawn at random. Deterministic (fixed
seeds): the file is the same on every machine. From the repository root::

    python examples/support-router/data/make_synthetic_calls.py      # rewrites the file
    agentgov log import examples/support-router/data/synthetic_calls.csv --agent support-router --version 1
    agentgov drift support-router --version 1 --reference examples/support-router/data/eval.csv \\
        --until 2026-11-24T12:00Z --window 24h

``--until`` ends the window where the file's day ends, whatever today is.
"""

from __future__ import annotations

import csv
import random
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]  # make_eval_data.py beside this file, router.py in the agent folder

from make_eval_data import rows  # noqa: E402
from router import SupportRouter  # noqa: E402

SEED = 2026
OUT = HERE / "synthetic_calls.csv"
END = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
COLUMNS = ["time", "request_id", "stage", "request.subject", "request.body", "response.action", "response.confidence", "latency_ms"]


def calls(seed: int = SEED) -> list[dict[str, object]]:
    rng = random.Random(seed)
    router = SupportRouter()
    tickets = rows(seed)
    step = timedelta(days=1) / len(tickets)
    made = []
    for i, ticket in enumerate(tickets):
        request = {"subject": ticket["subject"], "body": ticket["body"]}
        response = router.act(request)
        made.append({
            "time": (END - timedelta(days=1) + i * step).isoformat().replace("+00:00", "Z"),
            "request_id": f"synthetic-{i + 1:04d}",
            "stage": "shadow",
            "request.subject": request["subject"],
            "request.body": request["body"],
            "response.action": response["action"],
            "response.confidence": response["confidence"],
            "latency_ms": round(rng.lognormvariate(2.3, 0.4), 2),
        })
    return made


def main() -> None:
    with OUT.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(calls())
    print(f"wrote {OUT} (synthetic: {len(calls())} calls)")


if __name__ == "__main__":
    main()
