"""A small HTTP/1.1 client for the gateway's hops to its upstreams on plain ``http://`` (loopback, a cluster's
network): keep-alive connections over asyncio streams, JSON in and out.

Measured on the benchmark machine, httpx's ``AsyncClient`` cost the gateway about 700 us of CPU per call, more
than the agent it fronts; this costs a few tens. It speaks only what the upstreams answer: a status line,
headers, then a ``Content-Length`` body or a chunked one. A connection whose call was cancelled (a timeout) or
failed is closed, never reused; ``https://`` upstreams use httpx.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any
from urllib.parse import urlsplit

MAX_IDLE_S = 4.0  # below uvicorn's default keep-alive timeout (5 s)


class WireError(Exception):
    pass


class Reply:
    __slots__ = ("body", "status")

    def __init__(self, status: int, body: bytes) -> None:
        self.status = status
        self.body = body

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    def json(self) -> Any:
        return json.loads(self.body)


class WireClient:
    def __init__(self, url: str, *, max_idle: int = 64) -> None:
        parts = urlsplit(url)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"{url}: WireClient speaks plain http:// only")
        self.host = parts.hostname
        self.port = parts.port or 80
        self.base = parts.path.rstrip("/")
        self._idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter, float]] = []
        self._max_idle = max_idle
        self._head = f"Host: {self.host}:{self.port}\r\nContent-Type: application/json\r\n"

    async def request(self, method: str, path: str, data: Any = None) -> Reply:
        body = b"" if data is None else json.dumps(data, separators=(",", ":")).encode()
        head = f"{method} {self.base}{path} HTTP/1.1\r\n{self._head}Content-Length: {len(body)}\r\n\r\n".encode()
        idle = self._take_idle()
        try:
            return await self._exchange(head + body, idle)
        except (ConnectionError, asyncio.IncompleteReadError, WireError):
            if idle is None:
                raise
            # The server closed the kept-alive connection as it was reused (its keep-alive timeout): a fresh one.
            return await self._exchange(head + body, None)

    def _take_idle(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | None:
        now = time.monotonic()
        while self._idle:
            reader, writer, since = self._idle.pop()
            # Servers drop idle connections (uvicorn after 5 s): one seen closed, or idle that long, is not reused.
            if now - since < MAX_IDLE_S and not reader.at_eof() and not writer.is_closing():
                return reader, writer
            writer.close()
        return None

    async def _exchange(self, payload: bytes, idle: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None) -> Reply:
        reader, writer = idle or await asyncio.open_connection(self.host, self.port)
        try:
            writer.write(payload)
            status, keep, body = await self._read(reader)
        except BaseException:  # cancelled (a timeout) or broken: the connection's state is unknown
            writer.close()
            raise
        if keep and len(self._idle) < self._max_idle:
            self._idle.append((reader, writer, time.monotonic()))
        else:
            writer.close()
        return Reply(status, body)

    async def _read(self, reader: asyncio.StreamReader) -> tuple[int, bool, bytes]:
        line = await reader.readline()
        if not line:
            raise WireError("the connection was closed before an answer")
        try:
            version, status = line.split(b" ", 2)[:2]
            code = int(status)
        except ValueError:
            raise WireError(f"not an HTTP status line: {line[:80]!r}") from None
        length, chunked, keep = None, False, version == b"HTTP/1.1"
        while True:
            header = await reader.readline()
            if header in (b"\r\n", b"\n", b""):
                break
            name, _, value = header.partition(b":")
            name, value = name.strip().lower(), value.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding" and b"chunked" in value:
                chunked = True
            elif name == b"connection":
                keep = value == b"keep-alive" or (keep and value != b"close")
        if chunked:
            parts = []
            while True:
                size = int((await reader.readline()).split(b";")[0], 16)
                if size == 0:
                    await reader.readline()
                    break
                parts.append(await reader.readexactly(size))
                await reader.readline()
            return code, keep, b"".join(parts)
        if length is None:
            return code, False, await reader.read()
        return code, keep, await reader.readexactly(length)

    async def close(self) -> None:
        while self._idle:
            _, writer, _ = self._idle.pop()
            writer.close()
