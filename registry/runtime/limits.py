"""Rate limits and time limits for tool calls.

Rate limits are token buckets shared by the whole process: every runtime of
one agent (each request, each loaded copy) draws on the same bucket for a
connector, so ``rate_limit: 10/s`` holds however many requests run at once.
A call over the limit is refused at once rather than queued: the agent sees
the refusal and decides.

A time limit cannot stop a Python thread (CPython offers no way to kill one),
so a connector runs in a worker thread and the caller waits at most the
call's ``timeout_s``; past it the call is abandoned: the agent gets
:class:`~agentgov.registry.runtime.ToolTimeout` while the worker finishes (or
hangs) on its own. Workers are reused; a connector whose abandoned calls
pile up (:data:`MAX_ABANDONED` still running) is refused until they end.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from typing import Any

UNITS = {"s": 1.0, "min": 60.0, "h": 3600.0, "d": 86400.0}
DEFAULT_TIMEOUT_S = 10.0
MAX_ABANDONED = 8  # calls of one connector still running past their time limit
MAX_IDLE_WORKERS = 32


class TokenBucket:
    """``capacity`` calls at once, refilled at ``capacity`` per ``period`` seconds."""

    def __init__(self, capacity: int, period: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.capacity = capacity
        self.rate = capacity / period
        self._clock = clock
        self._tokens = float(capacity)
        self._stamp = clock()
        self._lock = threading.Lock()

    def take(self) -> bool:
        with self._lock:
            now = self._clock()
            self._tokens = min(self.capacity, self._tokens + (now - self._stamp) * self.rate)
            self._stamp = now
            if self._tokens >= 1:
                self._tokens -= 1
                return True
            return False


def parse_rate(text: str) -> tuple[int, float]:
    """``"10/s"`` -> ``(10, 1.0)``; the manifest already checked the form."""
    match = re.fullmatch(r"([1-9][0-9]*)/(s|min|h|d)", text)
    if match is None:
        raise ValueError(f"rate limit {text!r}: expected COUNT/UNIT like '10/s'")
    return int(match.group(1)), UNITS[match.group(2)]


_BUCKETS: dict[tuple[str, str, str], TokenBucket] = {}
_BUCKETS_LOCK = threading.Lock()


def shared_bucket(agent: str, connector: str, rate: str) -> TokenBucket:
    """The process's one bucket for ``agent``'s ``connector`` at ``rate``."""
    key = (agent, connector, rate)
    with _BUCKETS_LOCK:
        bucket = _BUCKETS.get(key)
        if bucket is None:
            bucket = _BUCKETS[key] = TokenBucket(*parse_rate(rate))
        return bucket


class CallTimedOut(Exception):
    """Raised by :func:`run_with_timeout` when the worker did not finish in time."""


class _Job:
    __slots__ = ("done", "error", "fn", "on_late_end", "result", "state")

    def __init__(self, fn: Callable[[], Any]) -> None:
        self.fn = fn
        self.done = threading.Event()
        self.result: Any = None
        self.error: BaseException | None = None
        self.state = "running"  # or "abandoned"
        self.on_late_end: Callable[[], None] | None = None


class _Worker(threading.Thread):
    def __init__(self) -> None:
        super().__init__(name="agentgov-tool-worker", daemon=True)
        self._wake = threading.Event()
        self._job: _Job | None = None

    def give(self, job: _Job) -> None:
        self._job = job
        self._wake.set()

    def run(self) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()
            job = self._job
            assert job is not None
            try:
                job.result = job.fn()
            except BaseException as exc:  # handed to the caller, which decides
                job.error = exc
            with _POOL_LOCK:
                job.done.set()
                late = job.state == "abandoned"
                self._job = None
                if len(_IDLE) >= MAX_IDLE_WORKERS:
                    break
                _IDLE.append(self)
            if late and job.on_late_end is not None:
                job.on_late_end()


_IDLE: list[_Worker] = []
_POOL_LOCK = threading.Lock()


def run_with_timeout(fn: Callable[[], Any], timeout: float, on_late_end: Callable[[], None] | None = None) -> Any:
    """``fn()`` in a worker thread; its result, or its exception re-raised, or :class:`CallTimedOut`.

    ``on_late_end`` is called (in the worker) when an abandoned call ends after all.
    """
    job = _Job(fn)
    job.on_late_end = on_late_end
    with _POOL_LOCK:
        worker = _IDLE.pop() if _IDLE else None
    if worker is None:
        worker = _Worker()
        worker.give(job)
        worker.start()
    else:
        worker.give(job)
    if not job.done.wait(timeout):
        with _POOL_LOCK:
            if not job.done.is_set():
                job.state = "abandoned"
                raise CallTimedOut
    if job.error is not None:
        raise job.error
    return job.result
