"""Copies of requests sent to the shadow version, off the caller's path.

:meth:`ShadowMirror.offer` puts a copy in a bounded queue and returns at once;
a few worker tasks take copies and run them in ``shadow`` mode with a time
limit. The caller never waits: a full queue, a version whose every slot is
held by hanging calls, a timeout, an error, or a bento that cannot run shadow
mode drops the copy and counts it by reason. A copy that ran (answered,
raised or timed out) is recorded, so the rollout's analysis sees the shadow's
errors and timeouts too; one that never ran is only counted.

A version that answers busy has every slot held by calls that outlived their
time limit (a hang): for ``busy_backoff_s`` after that answer, copies to it are
dropped as busy without being sent, so a hanging shadow does not turn into a
stream of refused round trips that costs the gateway (and its callers) CPU.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from agentgov.pipelines.gateway.upstreams import Answer, Busy, ShadowUnsupported, Upstream, UpstreamError

if TYPE_CHECKING:
    from agentgov.registry.runtime import Trace

log = logging.getLogger("agentgov.gateway")


@dataclass(frozen=True)
class ShadowJob:
    upstream: Upstream
    request: dict[str, Any]
    request_id: str
    pairing_id: str
    trace_id: str
    paired: Trace | None  # the production call's trace: side-effecting tools are answered from it
    rollout_id: str | None


@dataclass(frozen=True)
class ShadowResult:
    job: ShadowJob
    answer: Answer | None
    error: str | None
    seconds: float


class ShadowMirror:
    def __init__(
        self,
        *,
        record: Callable[[ShadowResult], None],
        dropped: Callable[[str], None],
        queue_size: int = 1000,
        workers: int = 4,
        timeout_s: float = 2.0,
        busy_backoff_s: float = 0.1,
    ) -> None:
        self.queue_size = queue_size
        self.workers = workers
        self.timeout_s = timeout_s
        self.busy_backoff_s = busy_backoff_s
        self._busy_until: dict[Upstream, float] = {}  # an upstream that answered busy: no copy sent until then
        self._record = record
        self._dropped = dropped
        self._queue: asyncio.Queue[ShadowJob] | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._accepting = False

    async def start(self) -> None:
        self._queue = asyncio.Queue(maxsize=self.queue_size)
        self._accepting = True
        self._tasks = [asyncio.create_task(self._work(), name=f"agentgov-shadow-{i}") for i in range(self.workers)]

    @property
    def waiting(self) -> int:
        return self._queue.qsize() if self._queue is not None else 0

    def offer(self, job: ShadowJob) -> bool:
        """Queue a copy without waiting; False (and counted) when the queue is full or the gateway is stopping."""
        if not self._accepting or self._queue is None:
            self._dropped("shutdown")
            return False
        try:
            self._queue.put_nowait(job)
        except asyncio.QueueFull:
            self._dropped("queue_full")
            return False
        return True

    async def _work(self) -> None:
        assert self._queue is not None
        while True:
            job = await self._queue.get()
            try:
                await self._run(job)
            except Exception:  # a bug in recording must not stop the worker
                log.exception("shadow copy %s could not be recorded", job.request_id)
            finally:
                self._queue.task_done()

    async def _run(self, job: ShadowJob) -> None:
        began = time.perf_counter()
        if began < self._busy_until.get(job.upstream, 0.0):
            self._dropped("busy")
            return
        try:
            answer = await asyncio.wait_for(
                job.upstream.act(job.request, mode="shadow", trace_id=job.trace_id, paired=job.paired), self.timeout_s
            )
        except Busy:
            self._busy_until[job.upstream] = time.perf_counter() + self.busy_backoff_s
            self._dropped("busy")
            return
        except ShadowUnsupported as exc:
            self._dropped("unsupported")
            log.warning("%s", exc)
            return
        except TimeoutError:
            self._dropped("timeout")
            self._record(
                ShadowResult(job, None, f"timeout: no answer within {self.timeout_s:g} s", time.perf_counter() - began)
            )
            return
        except UpstreamError as exc:
            self._dropped("error")
            self._record(ShadowResult(job, Answer(None, exc.trace), str(exc), time.perf_counter() - began))
            return
        except Exception as exc:
            self._dropped("error")
            self._record(ShadowResult(job, None, f"{type(exc).__name__}: {exc}", time.perf_counter() - began))
            return
        self._record(ShadowResult(job, answer, None, time.perf_counter() - began))

    async def stop(self, grace_s: float = 5.0) -> None:
        """Stop taking copies, give the queued ones ``grace_s`` to finish, then drop (and count) the rest."""
        self._accepting = False
        if self._queue is None:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._queue.join(), grace_s)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        left = 0
        while not self._queue.empty():
            self._queue.get_nowait()
            left += 1
        for _ in range(left):
            self._dropped("shutdown")
