"""Connector kind ``http``: each tool action is a JSON POST to ``URL/ACTION``.

Manifest::

    connectors:
      - name: crm
        kind: http
        scopes: ["customers:read"]
        config:
          url: https://crm.internal/api/tools   # each call POSTs to .../tools/<action>
          token_env: CRM_TOKEN                  # optional: sent as "Authorization: Bearer ..."

The arguments (already checked against the tool's schema) are the JSON body;
the JSON answer is the tool's result. An answer other than 2xx, or one that
is not JSON, fails the call with its status and the start of its body.
Redirects are not followed (a redirect would carry the token to wherever it
points): a 3xx answer fails the call, naming where it pointed.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from typing import Any

from agentgov.core import Register, hookimpl
from agentgov.registry.runtime import ConnectorSettings

SOCKET_TIMEOUT_S = 60.0  # the runtime abandons a call at its own time limit; this ends the worker's wait
MAX_ANSWER = 10 << 20
ALLOWED = {"url", "token", "socket_timeout_s"}


class HttpConnection:
    def __init__(self, url: str, token: str | None, socket_timeout: float) -> None:
        self._url = url.rstrip("/")
        self._token = token
        self._socket_timeout = socket_timeout

    def call(self, action: str, args: Mapping[str, Any]) -> Any:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        request = urllib.request.Request(
            f"{self._url}/{urllib.parse.quote(action)}",
            data=json.dumps(dict(args)).encode("utf-8"),
            headers=headers,
            method="POST",
        )
        try:
            with _OPENER.open(request, timeout=self._socket_timeout) as response:
                body = response.read(MAX_ANSWER + 1)
        except urllib.error.HTTPError as exc:
            if 300 <= exc.code < 400:
                raise RuntimeError(
                    f"HTTP {exc.code} from {action}: redirects are not followed (to {exc.headers.get('Location')!r})"
                ) from None
            raise RuntimeError(f"HTTP {exc.code} from {action}: {_start(exc.read(200))}") from None
        except urllib.error.URLError as exc:
            raise RuntimeError(f"cannot reach {self._url}: {exc.reason}") from None
        if len(body) > MAX_ANSWER:
            raise RuntimeError(f"the answer of {action} is over {MAX_ANSWER:,} bytes")
        if not body.strip():
            return None
        try:
            return json.loads(body)
        except ValueError:
            raise RuntimeError(f"the answer of {action} is not JSON: {_start(body)}") from None

    def close(self) -> None:
        pass


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):  # type: ignore[no-untyped-def]
        return None  # urllib then raises the 3xx as an HTTPError


_OPENER = urllib.request.build_opener(_NoRedirects)


def _start(body: bytes) -> str:
    text = body[:200].decode("utf-8", "replace").strip()
    return repr(text) if text else "(empty)"


class HttpConnector:
    name = "http"
    description = (
        "Calls a URL per tool action: POST URL/ACTION with the arguments as JSON, the JSON answer as the result."
    )

    def connect(self, settings: ConnectorSettings) -> HttpConnection:
        config = dict(settings.config)
        unknown = sorted(set(config) - ALLOWED)
        if unknown:
            raise ValueError(f"unknown config {', '.join(unknown)} (expected: url, token_env, socket_timeout_s)")
        url = config.get("url")
        if (
            not isinstance(url, str)
            or urllib.parse.urlsplit(url).scheme not in ("http", "https")
            or not urllib.parse.urlsplit(url).netloc
        ):
            raise ValueError(f"config url must be an http:// or https:// URL, got {url!r}")
        timeout = config.get("socket_timeout_s", SOCKET_TIMEOUT_S)
        if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
            raise ValueError(f"config socket_timeout_s must be a number of seconds above 0, got {timeout!r}")
        return HttpConnection(url, config.get("token"), float(timeout))


@hookimpl
def agentgov_register_connectors(register: Register) -> None:
    register(HttpConnector())
