"""``agentgov traffic replay``: real requests to a gateway's ``POST /act`` at a steady rate."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from agentgov.core.errors import InvalidValue

KEY_HEADER = "X-Agentgov-Key"
TIMEOUT_S = 30.0


def load_requests(path: str, key_field: str) -> list[tuple[str, dict[str, Any]]]:
    """(routing key, request body) per row of a JSON Lines, CSV or Parquet file; ``request.`` columns become fields."""
    import math

    from agentgov.evals.inference_log import REQUEST_PREFIX, load_file

    frame = load_file(path)
    if frame.empty:
        raise InvalidValue(f"{path}: no requests in it")
    fields = [c for c in frame.columns if str(c).startswith(REQUEST_PREFIX)] or list(frame.columns)
    requests = []
    for index, row in enumerate(frame.to_dict("records")):
        body = {
            str(c).removeprefix(REQUEST_PREFIX): row[c]
            for c in fields
            if not (isinstance(row[c], float) and math.isnan(row[c]))
        }
        key = body.pop(key_field, None) or row.get(key_field) or f"row-{index}"
        requests.append((str(key), body))
    return requests


def replay(
    url: str,
    requests: list[tuple[str, dict[str, Any]]],
    *,
    rps: float,
    total: int,
    on_answer: Callable[[bool], None] | None = None,
    workers: int = 32,
) -> dict[str, Any]:
    """Send ``total`` requests (the list repeats) at ``rps``; counts and latency percentiles."""
    target = url.rstrip("/") + "/act"
    latencies: list[float] = []
    errors: list[str] = []

    def send(key: str, body: dict[str, Any]) -> None:
        request = urllib.request.Request(
            target,
            data=json.dumps(body, default=str).encode(),
            headers={"Content-Type": "application/json", KEY_HEADER: key},
            method="POST",
        )
        began = time.perf_counter()
        ok = False
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
                response.read()
                ok = 200 <= response.status < 300
        except urllib.error.HTTPError as exc:
            errors.append(f"HTTP {exc.code}")
        except OSError as exc:
            errors.append(type(exc).__name__)
        if ok:
            latencies.append((time.perf_counter() - began) * 1000)
        if on_answer is not None:
            on_answer(ok)

    began = time.monotonic()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for i in range(total):
            due = began + i / rps
            pause = due - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            key, body = requests[i % len(requests)]
            pool.submit(send, key, dict(body))
    seconds = time.monotonic() - began
    ordered = sorted(latencies)

    def percentile(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0

    return {
        "url": target,
        "sent": total,
        "ok": len(latencies),
        "errors": len(errors),
        "error_kinds": sorted(set(errors)),
        "seconds": seconds,
        "rps": total / seconds if seconds else 0.0,
        "p50_ms": percentile(0.5),
        "p99_ms": percentile(0.99),
    }
