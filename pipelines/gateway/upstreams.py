"""The versions behind a gateway: an agent loaded in this process, or a served bento over HTTP.

Both answer :meth:`Upstream.act` with an :class:`Answer` (the response and the
trace of the tool calls) and never block the event loop. An in-process agent
runs in a thread pool of its own; with ``max_running`` set, a call that finds
every slot taken is refused at once (:class:`Busy`) instead of queueing
behind calls that hang, so a hanging version holds a bounded number of
threads, and a call abandoned at its timeout keeps its slot until it really
ends.

A host process (:mod:`.host`) and a bento built by ``agentgov build`` answer
``POST /act_traced``; other servers may answer ``POST /act`` only. Shadow mode needs
the bento to run the request with a paired trace and to return its own trace:
``POST /act_traced`` with ``{"request", "mode", "trace_id", "paired"}``
answering ``{"response", "trace"}``. A bento without that route is never sent
a shadow copy (:class:`ShadowUnsupported`): its ``/act`` would execute the side
effects for real.
"""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from agentgov.registry.loading import LoadedAgent
    from agentgov.registry.runtime import Trace


@dataclass(frozen=True)
class Answer:
    response: Any
    trace: Trace | None  # None when the upstream cannot say what its tools did


class UpstreamError(Exception):
    """The version did not answer: the agent raised, or the bento answered with an error."""

    def __init__(self, message: str, trace: Trace | None = None) -> None:
        super().__init__(message)
        self.trace = trace


class Busy(UpstreamError):
    """Every slot of the version is taken (by calls that may be hanging): refused without queueing."""


class ShadowUnsupported(UpstreamError):
    """The upstream cannot run a request in shadow mode, so no copy is sent to it."""


@runtime_checkable
class Upstream(Protocol):
    version: int
    describe: str

    async def act(
        self, request: dict[str, Any], *, mode: str = "live", trace_id: str, paired: Trace | None = None
    ) -> Answer: ...

    async def ready(self) -> bool: ...

    async def close(self) -> None: ...


class InProcessUpstream:
    """A :class:`~agentgov.registry.loading.LoadedAgent` run in this process, in threads of its own."""

    def __init__(self, agent: LoadedAgent, *, threads: int = 16, max_running: int | None = None) -> None:
        self.agent = agent
        self.version = agent.version.version
        self.describe = f"in-process {agent.version.name}/{agent.version.version}"
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix=f"agentgov-v{self.version}")
        self._slots = threading.BoundedSemaphore(max_running) if max_running else None

    async def act(
        self, request: dict[str, Any], *, mode: str = "live", trace_id: str, paired: Trace | None = None
    ) -> Answer:
        if self._slots is not None and not self._slots.acquire(blocking=False):
            raise Busy(f"{self.describe}: every one of its slots is running a call")
        try:
            future = self._pool.submit(self._run, request, mode, trace_id, paired)
        except RuntimeError:  # the pool is shut down
            if self._slots is not None:
                self._slots.release()
            raise UpstreamError(f"{self.describe} is closed") from None
        if self._slots is not None:
            # A caller that stops waiting cancels the call only if it has not started; _run then never releases.
            future.add_done_callback(lambda f: self._slots.release() if f.cancelled() else None)
        return await asyncio.wrap_future(future)

    def _run(self, request: dict[str, Any], mode: str, trace_id: str, paired: Trace | None) -> Answer:
        try:
            response, trace = self.agent.act_traced(request, mode=mode, trace_id=trace_id, paired=paired)
        except Exception as exc:
            raise UpstreamError(f"{type(exc).__name__}: {exc}", getattr(exc, "agentgov_trace", None)) from exc
        finally:
            if self._slots is not None:
                self._slots.release()  # when the call really ends, not when its caller stopped waiting
        return Answer(response, trace)

    async def ready(self) -> bool:
        return True  # loaded before it was handed to the gateway

    async def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        runtime = self.agent.runtime or self.agent._built.get("runtime")
        if runtime is not None:
            runtime.close()


class HttpUpstream:
    """A served version (``agentgov serve`` / ``deploy --target bentoml-local``, or a host process) at ``url``.

    Plain ``http://`` goes through :class:`~.wire.WireClient` (a few tens of us of CPU a call), ``https://``
    through httpx. Each call is limited to ``timeout_s``; a connection that fails is an :class:`UpstreamError`.
    """

    def __init__(self, url: str, version: int, *, timeout_s: float = 30.0) -> None:
        self.url = url.rstrip("/")
        self.version = int(version)
        self.timeout_s = timeout_s
        self.describe = f"{self.url} (version {self.version})"
        self._client: Any = None
        self._traced: bool | None = None  # whether the upstream has /act_traced; found on first use

    def _wire(self) -> Any:
        if self._client is None:
            if self.url.startswith("http://"):
                from agentgov.pipelines.gateway.wire import WireClient

                self._client = WireClient(self.url)
            else:
                self._client = _HttpxClient(self.url, self.timeout_s)
        return self._client

    async def _call(self, method: str, path: str, data: Any = None) -> Any:
        try:
            async with asyncio.timeout(self.timeout_s):
                return await self._wire().request(method, path, data)
        except TimeoutError:
            raise
        except (OSError, ValueError, asyncio.IncompleteReadError) as exc:
            raise UpstreamError(f"{self.describe} did not answer: {type(exc).__name__}: {exc}") from None
        except Exception as exc:
            if type(exc).__module__.startswith(("httpx", "agentgov.pipelines.gateway.wire")):
                raise UpstreamError(f"{self.describe} did not answer: {type(exc).__name__}: {exc}") from None
            raise

    async def act(
        self, request: dict[str, Any], *, mode: str = "live", trace_id: str, paired: Trace | None = None
    ) -> Answer:
        from agentgov.registry.runtime import Trace

        if self._traced is not False:
            body = {
                "request": request,
                "mode": mode,
                "trace_id": trace_id,
                "paired": paired.to_dict() if paired else None,
            }
            answer = await self._call("POST", "/act_traced", body)
            if answer.status == 404:
                self._traced = False
            else:
                self._traced = True
                if answer.status == 503:
                    raise Busy(f"{self.describe}: {answer.text[:200]}")
                failed = _json_object(answer) if answer.status == 500 else {}
                if failed.get("error"):
                    trace = Trace.from_dict(failed["trace"]) if failed.get("trace") else None
                    raise UpstreamError(str(failed["error"]), trace)
                data = self._json(answer)
                trace = Trace.from_dict(data["trace"]) if data.get("trace") else None
                return Answer(data.get("response"), trace)
        if mode != "live":
            raise ShadowUnsupported(
                f"{self.describe} has no /act_traced route: a {mode} copy would run its tools for real"
            )
        return Answer(self._json(await self._call("POST", "/act", request)), None)

    def _json(self, answer: Any) -> Any:
        if answer.status >= 400:
            raise UpstreamError(f"{self.describe} answered {answer.status}: {answer.text[:200]}")
        try:
            return answer.json()
        except ValueError:
            raise UpstreamError(f"{self.describe} answered with something that is not JSON") from None

    async def ready(self) -> bool:
        try:
            async with asyncio.timeout(2.0):
                return (await self._wire().request("GET", "/readyz")).status == 200
        except Exception:
            return False

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()


class _HttpxClient:
    """httpx behind the same ``request``/``close`` as the wire client (for ``https://``)."""

    def __init__(self, url: str, timeout_s: float) -> None:
        import httpx

        self.url = url
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout_s, connect=min(timeout_s, 5.0)),
            limits=httpx.Limits(max_connections=256, max_keepalive_connections=64),
        )

    async def request(self, method: str, path: str, data: Any = None) -> Any:
        from agentgov.pipelines.gateway.wire import Reply

        answer = await self._client.request(method, f"{self.url}{path}", json=data)
        return Reply(answer.status_code, answer.content)

    async def close(self) -> None:
        await self._client.aclose()


def _json_object(answer: Any) -> dict[str, Any]:
    try:
        data = answer.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}
