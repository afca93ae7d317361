"""``traffic replay`` against a real HTTP server on loopback: the rate, the keys, the bodies, the errors."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from agentgov.core.errors import InvalidValue
from agentgov.pipelines.rollout.replay import load_requests, replay


@pytest.fixture
def gateway() -> Iterator[tuple[str, list[tuple[str, dict]]]]:
    """A stand-in for a gateway's ``POST /act``: records each (key, body); a body with ``"fail": true`` gets a 500."""
    seen: list[tuple[str, dict]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            seen.append((self.headers.get("X-Agentgov-Key", ""), body))
            status = 500 if body.get("fail") else 200 if self.path == "/act" else 404
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"action": "route"}')

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_replay_sends_each_request_with_its_key_at_the_rate(gateway: tuple[str, list], tmp_path: Path) -> None:
    url, seen = gateway
    dataset = tmp_path / "requests.jsonl"
    rows = [{"request": {"text": f"ticket {i}", "agentgov_key": f"user-{i % 3}", "fail": i == 4}} for i in range(10)]
    dataset.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    requests = load_requests(str(dataset), "agentgov_key")
    assert requests[1] == ("user-1", {"text": "ticket 1", "fail": False})

    answered: list[bool] = []
    summary = replay(url, requests, rps=50, total=20, on_answer=answered.append)
    assert (
        summary["sent"] == 20
        and summary["ok"] == 18
        and summary["errors"] == 2
        and summary["error_kinds"] == ["HTTP 500"]
    )
    assert len(answered) == 20 and answered.count(False) == 2
    assert 0.3 <= summary["seconds"] < 3  # 20 requests at 50 per second: paced, not all at once
    assert sorted(k for k, _ in seen).count("user-0") == 8  # the dataset repeats: rows 0, 3, 6, 9 twice
    assert summary["p50_ms"] > 0 and summary["p99_ms"] >= summary["p50_ms"]


def test_an_empty_or_unknown_dataset_is_refused(tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_text("text\n")
    with pytest.raises(InvalidValue, match="no requests"):
        load_requests(str(empty), "agentgov_key")
    with pytest.raises(InvalidValue, match="unknown file type"):
        load_requests(str(tmp_path / "x.txt"), "agentgov_key")
