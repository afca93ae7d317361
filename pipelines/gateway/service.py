"""The gateway's work for one request: route, answer, log, mirror.

``POST /act`` is answered by production, or by the canary for the keys whose
point lies below the canary weight (sticky per key and rollout); a share of
keys is copied to the shadow version in ``shadow`` mode, paired with the
production call's trace so its side-effecting tools are answered from what
production did and never executed. Every call (production, canary, shadow)
becomes one inference-log row; a primary and its shadow copy share a
``pairing_id`` (the request id).
"""

from __future__ import annotations

import asyncio
import copy
import json
import logging
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from agentgov.deploy.traffic import Routing
from agentgov.evals.inference_log import RESPONSE_FIELDS, InferenceRecord
from agentgov.evals.usage import reported_usage
from agentgov.pipelines.gateway.logbuffer import LogBuffer
from agentgov.pipelines.gateway.metrics import GatewayMetrics
from agentgov.pipelines.gateway.shadow import ShadowJob, ShadowMirror, ShadowResult
from agentgov.pipelines.gateway.table import RoutingTable, UpstreamSource
from agentgov.pipelines.gateway.upstreams import Answer, UpstreamError

log = logging.getLogger("agentgov.gateway")
# Request ids need to be unique, not secret: uuid4 reads os.urandom, which lets go of the GIL on every request and
# may then wait for it behind another thread (the log writer, a routing read) for a whole switch interval.
_ids = random.Random()


def new_request_id() -> str:
    """32 random hex digits, as ``uuid.uuid4().hex`` has (a keyless request is routed by it)."""
    return f"{_ids.getrandbits(128):032x}"


@dataclass(frozen=True)
class GatewaySettings:
    refresh_s: float = 1.0  # how often routing is read from the registry
    primary_timeout_s: float = 30.0
    shadow_timeout_s: float = 2.0
    shadow_queue: int = 1000
    shadow_workers: int = 4
    shadow_process: bool = True  # an in-process version's shadow runs in a host process (isolation), else in threads
    shadow_nice: int = 10  # the host process's CPU priority below the gateway's: the callers keep a busy machine's CPU
    shadow_cpus: tuple[int, ...] | None = None  # CPUs the host process may run on (Linux), away from the callers'
    log_batch_rows: int = 2000  # a Parquet write costs ~35 ms + ~30 us a row: few large files
    log_max_wait_s: float = 2.0
    log_max_rows: int = 50_000


@dataclass(frozen=True)
class Reply:
    status: int
    body: Any
    request_id: str
    version: int | None = None
    role: str | None = None


class NotReady(Exception):
    pass


class Gateway:
    def __init__(
        self,
        agent: str,
        read_routing: Callable[[], Routing],
        source: UpstreamSource,
        home: Path,
        settings: GatewaySettings | None = None,
    ) -> None:
        self.agent = agent
        self.settings = settings or GatewaySettings()
        self.metrics = GatewayMetrics(agent)
        self.table = RoutingTable(read_routing, source, on_swap=self.metrics.routing_swaps.labels(agent).inc)
        self.log = LogBuffer(
            home,
            batch_rows=self.settings.log_batch_rows,
            max_wait_s=self.settings.log_max_wait_s,
            max_rows=self.settings.log_max_rows,
            on_drop=lambda reason, n: self.metrics.log_dropped.labels(agent, reason).inc(n),
        )
        self.mirror = ShadowMirror(
            record=self._record_shadow,
            dropped=self.metrics.dropped,
            queue_size=self.settings.shadow_queue,
            workers=self.settings.shadow_workers,
            timeout_s=self.settings.shadow_timeout_s,
        )
        self._refresher: asyncio.Task[None] | None = None

    # -- life ------------------------------------------------------------------------

    async def start(self) -> None:
        await self.mirror.start()
        await self._refresh_once()
        self._refresher = asyncio.create_task(self._refresh_forever(), name="agentgov-routing-refresh")

    async def _refresh_once(self) -> None:
        try:
            await self.table.refresh()
        except Exception as exc:
            self.metrics.routing_errors.labels(self.agent).inc()
            self.table.last_error = f"{type(exc).__name__}: {exc}"
            log.warning("routing of %s not refreshed (the last one is kept): %s", self.agent, self.table.last_error)

    async def _refresh_forever(self) -> None:
        while True:
            await asyncio.sleep(self.settings.refresh_s)
            await self._refresh_once()

    async def stop(self) -> None:
        """Stop refreshing, let shadow copies finish (up to their timeout), write every buffered row."""
        if self._refresher is not None:
            self._refresher.cancel()
            await asyncio.gather(self._refresher, return_exceptions=True)
        await self.mirror.stop(grace_s=self.settings.shadow_timeout_s + 1.0)
        await asyncio.to_thread(self.log.close)
        await self.table.close()

    async def ready(self) -> tuple[bool, str]:
        snapshot = self.table.current
        if snapshot is None:
            return False, f"routing not loaded: {self.table.last_error or 'loading'}"
        if snapshot.routing.production is None:
            return False, f"{self.agent} has no production version"
        for version, upstream in snapshot.upstreams.items():
            if not await upstream.ready():
                return False, f"version {version} ({upstream.describe}) is not ready"
        return True, "ready"

    # -- one request -------------------------------------------------------------------

    async def act(self, request: dict[str, Any], key: str | None = None) -> Reply:
        snapshot = self.table.current  # read once: this request finishes on what it started on
        request_id = new_request_id()
        if snapshot is None or snapshot.routing.production is None:
            raise NotReady(self.table.last_error or f"{self.agent} has no routing or no production version yet")
        routing = snapshot.routing
        key = key or request_id
        role, version = routing.route(key)
        stage = "canary" if role == "canary" else "production"
        upstream = snapshot.upstreams[version]
        mirror = snapshot.shadow is not None and routing.mirrors(key)
        copied = copy.deepcopy(request) if mirror else request  # the primary's agent may change its request
        started = datetime.now(UTC)
        began = time.perf_counter()
        answer: Answer | None = None
        error = None
        status = 200
        try:
            async with asyncio.timeout(self.settings.primary_timeout_s):  # no extra task, unlike wait_for
                answer = await upstream.act(request, mode="live", trace_id=request_id)
        except UpstreamError as exc:
            error, status, answer = str(exc), 502, Answer(None, exc.trace)
        except TimeoutError:
            error, status = f"timeout: no answer within {self.settings.primary_timeout_s:g} s", 504
        seconds = time.perf_counter() - began
        self.metrics.observe(version, stage, seconds, failed=error is not None)
        rollout_id = routing.rollout_id if (routing.canary is not None or routing.shadow is not None) else None
        trace = answer.trace if answer is not None else None
        self.log.add(
            self._row(started, version, stage, request_id, request, answer, error, seconds, rollout_id, request_id)
        )
        if mirror:
            self.mirror.offer(
                ShadowJob(snapshot.shadow, copied, request_id, request_id, f"{request_id}.shadow", trace, rollout_id)
            )
        if error is not None:
            return Reply(status, {"error": error, "request_id": request_id}, request_id, version, stage)
        return Reply(200, answer.response if answer is not None else None, request_id, version, stage)

    def _record_shadow(self, result: ShadowResult) -> None:
        job = result.job
        version = job.upstream.version
        self.metrics.observe(version, "shadow", result.seconds, failed=result.error is not None)
        started = datetime.now(UTC)
        self.log.add(
            self._row(
                started,
                version,
                "shadow",
                job.trace_id,
                job.request,
                result.answer,
                result.error,
                result.seconds,
                job.rollout_id,
                job.pairing_id,
            )
        )

    def _row(
        self,
        started: datetime,
        version: int | None,
        stage: str,
        request_id: str,
        request: Mapping[str, Any],
        answer: Answer | None,
        error: str | None,
        seconds: float,
        rollout_id: str | None,
        pairing_id: str,
    ) -> InferenceRecord:
        trace = answer.trace if answer is not None else None
        usage = reported_usage(answer.response if answer is not None else None)
        return InferenceRecord(
            time=started,
            agent=self.agent,
            version=version,
            stage=stage,
            request_id=request_id,
            request=_loggable_request(request),
            response=_loggable_response(answer.response if answer is not None else None),
            pairing_id=pairing_id,
            latency_ms=round(seconds * 1000, 3),
            cost=usage.cost,
            tokens=usage.tokens,
            error=error,
            trace_id=trace.trace_id if trace is not None else request_id,
            rollout_id=rollout_id,
            trace=trace.to_json() if trace is not None else None,
        )


def _loggable_request(request: Mapping[str, Any]) -> dict[str, Any]:
    """Scalars as they are; lists and objects as JSON text (a Parquet column holds one type)."""
    return {
        str(k): v
        if v is None or isinstance(v, str | int | float | bool)
        else json.dumps(v, sort_keys=True, default=str)
        for k, v in request.items()
    }


def _loggable_response(response: Any) -> dict[str, Any]:
    """The response fields the log keeps (action, label, confidence, text), each in its column's type."""
    if not isinstance(response, Mapping):
        return {"text": None if response is None else json.dumps(response, default=str)}
    kept: dict[str, Any] = {}
    for name in RESPONSE_FIELDS:
        value = response.get(name)
        if value is None:
            continue
        if name == "confidence":
            kept[name] = float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
        else:
            kept[name] = value if isinstance(value, str) else json.dumps(value, default=str)
    return kept
