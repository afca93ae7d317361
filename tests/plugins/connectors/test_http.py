"""The http connector kind against a real HTTP server on a loopback port, through the runtime."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import pytest

from agentgov.registry.runtime import CONNECTORS, AgentRuntime, ToolFailed
from agentgov.registry.runtime.protocol import ConnectorSettings

SCHEMA = {"type": "object", "properties": {"customer": {"type": "string"}}, "required": ["customer"]}


class _Handler(BaseHTTPRequestHandler):
    received: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.received.append({"path": self.path, "body": body, "auth": self.headers.get("Authorization")})
        if self.path.endswith("/moved"):
            self.send_response(307)
            self.send_header("Location", "http://elsewhere.example/steal")
            self.end_headers()
            return
        if self.path.endswith("/broken"):
            self.send_response(503)
            self.end_headers()
            self.wfile.write(b"down for maintenance")
            return
        answer = json.dumps({"customer": body.get("customer"), "plan": "pro"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def server() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    _Handler.received = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/api", _Handler.received
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


def _runtime(url: str, kinds) -> AgentRuntime:
    manifest = {
        "name": "crm-agent",
        "description": "d",
        "owners": ["o"],
        "risk_tier": "low",
        "entrypoint": "a.py:A",
        "example_request": {},
        "connectors": [
            {
                "name": "crm",
                "kind": "http",
                "scopes": ["customers:read"],
                "config": {"url": url, "token_env": "CRM_TOKEN_TEST"},
            }
        ],
        "tools": [
            {"connector": "crm", "action": action, "schema": "s.json", "scope": "customers:read", "side_effects": False}
            for action in ("lookup", "broken", "moved")
        ],
    }
    return AgentRuntime.from_manifest(
        manifest, {"crm.lookup": SCHEMA, "crm.broken": SCHEMA, "crm.moved": SCHEMA}, kinds=kinds
    )


def test_http_posts_the_arguments_and_answers_the_json(server, agentgov_plugins, monkeypatch) -> None:
    url, received = server
    monkeypatch.setenv("CRM_TOKEN_TEST", "tok-123456789")
    kinds = {n: r.item for n, r in agentgov_plugins.collect(CONNECTORS).items()}
    ctx = _runtime(url, kinds).context()
    assert ctx.tools.crm.lookup(customer="c-42") == {"customer": "c-42", "plan": "pro"}
    assert received == [{"path": "/api/lookup", "body": {"customer": "c-42"}, "auth": "Bearer tok-123456789"}]
    with pytest.raises(ToolFailed, match=r"HTTP 503 from broken: 'down for maintenance'"):
        ctx.call("crm.broken", {"customer": "c-42"})
    with pytest.raises(
        ToolFailed, match=r"HTTP 307 from moved: redirects are not followed \(to 'http://elsewhere.example/steal'\)"
    ):
        ctx.call("crm.moved", {"customer": "c-42"})
    assert [c.outcome for c in ctx.trace.calls] == ["ok", "failed", "failed"]
    assert [r["path"] for r in received] == ["/api/lookup", "/api/broken", "/api/moved"]
    assert "tok-123456789" not in ctx.trace.to_json()


def test_http_refuses_a_url_that_is_not_http(agentgov_plugins) -> None:
    http = agentgov_plugins.collect(CONNECTORS)["http"].item
    with pytest.raises(ValueError, match="config url must be an http:// or https:// URL"):
        http.connect(ConnectorSettings("crm", "http", (), {"url": "file:///etc/passwd"}))
    with pytest.raises(ValueError, match="unknown config verb"):
        http.connect(ConnectorSettings("crm", "http", (), {"url": "http://127.0.0.1:1", "verb": "GET"}))


def test_http_names_an_unreachable_server(agentgov_plugins) -> None:
    from agentgov.pipelines.runtime import free_port

    http = agentgov_plugins.collect(CONNECTORS)["http"].item
    connection = http.connect(ConnectorSettings("crm", "http", (), {"url": f"http://127.0.0.1:{free_port()}"}))
    with pytest.raises(RuntimeError, match=r"cannot reach http://127\.0\.0\.1"):
        connection.call("lookup", {})
