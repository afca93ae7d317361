"""agentgov's HTTP API on loopback, served by the home's control plane (what the console and the gateway call).

The control plane listens on ``127.0.0.1`` (a free port, recorded as
``api_url`` in ``<home>/server/control.json``) and forks a warm child for each
connection, which calls :func:`handle`: MLflow, Prefect and the plugins are
already imported and MLflow's store already open, so a registry query costs
milliseconds. Every endpoint but ``/api/v1/health`` needs
``Authorization: Bearer <token>``, the token in ``<home>/server/token``
(mode 0600); a call without it, or with another, gets 401 and a line in
``control.log`` (never the token).

=======  ==================================  ====================================================================
GET      /api/v1/health                      ``{"ok": true, "service": "agentgov", "api": "v1"}`` (no token)
GET      /api/v1/status                      the control plane: pid, uptime, running commands, active work, jobs
GET      /api/v1/agents                      as ``agentgov agents --json``
GET      /api/v1/agents/{name}/versions      as ``agentgov versions NAME --json`` (404 for an unknown agent)
POST     /api/v1/run                         ``{"argv": [...], "cwd"?, "user"?, "env"?}``: run an agentgov command;
                                             ``{"code", "stdout", "stderr", "json"}`` (``json``: stdout parsed, if it is)
GET      /api/v1/jobs                        long-lived jobs and schedules (:mod:`agentgov.pipelines.runner`)
POST     /api/v1/jobs                        ``{"target", "kwargs"?, "every_s"?, "name"?, "user"?}``: submit one (201)
DELETE   /api/v1/jobs/{id}                   cancel one
=======  ==================================  ====================================================================

Errors are ``{"error": "one line"}`` with 400 (bad request), 401, 404 or 500.
"""

from __future__ import annotations

import hmac
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import unquote

PREFIX = "/api/v1"
MAX_BODY = 1 << 20


@dataclass(frozen=True)
class Context:
    """What a handler needs from the control plane that forked it."""

    home: Any  # Path
    token: str
    status: dict[str, Any]
    run: Callable[[list[str], int], int]  # the command runner (agentgov.cli.main.run_in_child)
    log: Callable[[str], None]


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def handle(conn: Any, address: Any, context: Context) -> None:
    """Serve the one request on ``conn`` (a connected TCP socket) and close it."""
    conn.settimeout(30)
    _Handler.context = context
    try:
        _Handler(conn, address, None)
    finally:
        try:
            conn.close()
        except OSError:
            pass


class _Handler(BaseHTTPRequestHandler):
    context: Context
    server_version = "agentgov"
    sys_version = ""
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the request line is logged by _answer, without headers

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def _dispatch(self, method: str) -> None:
        began = time.monotonic()
        path = self.path.split("?", 1)[0].rstrip("/")
        try:
            if method == "GET" and path == f"{PREFIX}/health":
                status, body = 200, {"ok": True, "service": "agentgov", "api": "v1"}
            else:
                self._authorise(method, path)
                status, body = _route(method, path, self._body if method == "POST" else dict, self.context)
        except ApiError as exc:
            status, body = exc.status, {"error": str(exc)}
        except Exception as exc:
            agentgov_error = _agentgov_error(exc)
            if agentgov_error is not None:
                status, body = agentgov_error
            else:
                self.context.log(f"API {method} {path}: internal error {type(exc).__name__}: {exc}")
                status, body = 500, {"error": f"internal error: {type(exc).__name__}: {exc}"}
        self._answer(status, body, method, path, began)

    def _authorise(self, method: str, path: str) -> None:
        given = self.headers.get("Authorization", "")
        scheme, _, token = given.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), self.context.token.encode()):
            self.context.log(
                f"API refused {method} {path} from {self.client_address[0]}: {'no' if not given else 'a wrong'} token"
            )
            raise ApiError(401, "this endpoint needs Authorization: Bearer <the token in <home>/server/token>")

    def _body(self) -> dict[str, Any]:
        try:
            size = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            raise ApiError(400, "Content-Length is not a number") from None
        if size > MAX_BODY:
            raise ApiError(400, f"the request body is larger than {MAX_BODY} bytes")
        raw = self.rfile.read(size) if size else b"{}"
        try:
            data = json.loads(raw or b"{}")
        except ValueError as exc:
            raise ApiError(400, f"the request body is not JSON ({exc})") from None
        if not isinstance(data, dict):
            raise ApiError(400, "the request body must be a JSON object")
        return data

    def _answer(self, status: int, body: Any, method: str, path: str, began: float) -> None:
        data = json.dumps(body, default=str).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("Connection", "close")
        if status == 401:
            self.send_header("WWW-Authenticate", 'Bearer realm="agentgov"')
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()
        self.close_connection = True
        self.context.log(f"API {method} {path} {status} in {(time.monotonic() - began) * 1000:.0f} ms")


def _agentgov_error(exc: Exception) -> tuple[int, dict[str, Any]] | None:
    from agentgov.core.errors import AgentgovError

    if not isinstance(exc, AgentgovError):
        return None
    return (404 if type(exc).__name__ == "NotFound" else 400), {"error": str(exc)}


def _route(method: str, path: str, body: Callable[[], dict[str, Any]], context: Context) -> tuple[int, Any]:
    parts = path.removeprefix(PREFIX).strip("/").split("/")
    if not path.startswith(PREFIX + "/"):
        raise ApiError(404, f"no such endpoint: {method} {path}")
    if method == "GET" and parts == ["status"]:
        from agentgov.pipelines import runner

        return 200, {**context.status, "jobs": [j.to_dict() for j in runner.jobs(context.home)]}
    if method == "GET" and parts == ["agents"]:
        from agentgov.registry.backend import connect
        from agentgov.registry.store import list_agents

        return 200, list_agents(connect(_config()))
    if method == "GET" and len(parts) == 3 and parts[0] == "agents" and parts[2] == "versions":
        from agentgov.registry.backend import connect
        from agentgov.registry.store import versions

        return 200, [v.to_dict() for v in versions(connect(_config()), unquote(parts[1]))]
    if method == "POST" and parts == ["run"]:
        return 200, _run(body(), context)
    if parts and parts[0] == "jobs":
        return _jobs(method, parts[1:], body, context)
    raise ApiError(404, f"no such endpoint: {method} {path}")


def _config() -> Any:
    from agentgov.core.config import load_config

    return load_config()


def _jobs(method: str, rest: list[str], body: Callable[[], dict[str, Any]], context: Context) -> tuple[int, Any]:
    from agentgov.pipelines import runner

    try:
        if method == "GET" and not rest:
            return 200, [j.to_dict() for j in runner.jobs(context.home, include_ended=True)]
        if method == "GET" and len(rest) == 1:
            return 200, runner.get(context.home, rest[0]).to_dict()
        if method == "POST" and not rest:
            data = body()
            every = data.get("every_s")
            if not isinstance(data.get("target"), str) or (every is not None and not isinstance(every, int | float)):
                raise ApiError(
                    400, 'expected {"target": "package.module:attribute", "kwargs": {...}, "every_s": seconds}'
                )
            if not isinstance(data.get("kwargs", {}), dict):
                raise ApiError(400, "kwargs must be an object")
            job = runner.submit(
                context.home,
                data["target"],
                kwargs=data.get("kwargs") or {},
                every_s=every,
                name=str(data.get("name") or ""),
                owner=str(data.get("user") or _default_user()),
            )
            return 201, job.to_dict()
        if method == "DELETE" and len(rest) == 1:
            return 200, runner.cancel(context.home, rest[0], by=_default_user()).to_dict()
    except runner.RunnerError as exc:
        raise ApiError(404 if "matches" in str(exc) else 400, str(exc)) from None
    raise ApiError(404, f"no such endpoint: {method} /jobs/{'/'.join(rest)}")


def _default_user() -> str:
    import getpass

    return os.environ.get("AGENTGOV_USER") or getpass.getuser()


def _run(data: dict[str, Any], context: Context) -> dict[str, Any]:
    """Run one agentgov command in a child of this process, its output captured; how it ended."""
    argv = data.get("argv")
    if not isinstance(argv, list) or not argv or not all(isinstance(a, str) for a in argv):
        raise ApiError(400, 'expected {"argv": ["command", "arg", ...]}')
    if argv[0] in ("server",):
        raise ApiError(400, "`agentgov server` manages the control plane itself: run it from a shell")
    env = data.get("env") or {}
    if not isinstance(env, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in env.items()):
        raise ApiError(400, "env must be an object of strings")
    cwd = data.get("cwd") or os.getcwd()
    if not isinstance(cwd, str) or not os.path.isdir(cwd):
        raise ApiError(400, f"cwd {cwd!r} is not a folder")
    merged = {**os.environ, **env}
    if isinstance(data.get("user"), str) and data["user"]:
        merged["AGENTGOV_USER"] = data["user"]
    from agentgov.pipelines.control_plane import run_captured

    outcome = run_captured(argv, cwd=cwd, env=merged, run=context.run)
    try:
        parsed = json.loads(outcome["stdout"]) if "--json" in argv and outcome["stdout"].strip() else None
    except ValueError:
        parsed = None
    return {**outcome, "json": parsed}


__all__ = ["PREFIX", "Context", "handle"]
