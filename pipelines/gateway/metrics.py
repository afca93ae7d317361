"""The gateway's Prometheus metrics, in a registry of its own (two gateways in one process never share counters).

``role`` is the stage a call was made in (``production``, ``canary``,
``shadow``); ``version`` the version number that answered.
"""

from __future__ import annotations

from typing import Any

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class GatewayMetrics:
    def __init__(self, agent: str) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self.registry = CollectorRegistry(auto_describe=True)
        labels = ("agent", "version", "role")
        self.agent = agent
        self.requests = Counter(
            "agentgov_gateway_requests",
            "Calls made to a version, by role and outcome",
            (*labels, "outcome"),
            registry=self.registry,
        )
        self.errors = Counter("agentgov_gateway_errors", "Calls that failed, by role", labels, registry=self.registry)
        self.latency = Histogram(
            "agentgov_gateway_latency_seconds",
            "Time a version took to answer",
            labels,
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.shadow_dropped = Counter(
            "agentgov_gateway_shadow_dropped",
            "Shadow copies dropped (queue_full, busy, timeout, error, unsupported, shutdown); never seen by the caller",
            ("agent", "reason"),
            registry=self.registry,
        )
        self.shadow_queued = Gauge(
            "agentgov_gateway_shadow_queue", "Shadow copies waiting", ("agent",), registry=self.registry
        )
        self.log_dropped = Counter(
            "agentgov_gateway_log_dropped",
            "Inference-log rows dropped (buffer full, refused)",
            ("agent", "reason"),
            registry=self.registry,
        )
        self.routing_swaps = Counter(
            "agentgov_gateway_routing_swaps", "Routing changes taken up", ("agent",), registry=self.registry
        )
        self.routing_errors = Counter(
            "agentgov_gateway_routing_errors",
            "Routing refreshes that failed (the last routing is kept)",
            ("agent",),
            registry=self.registry,
        )
        self._children: dict[tuple[int | None, str, bool], tuple[Any, Any, Any]] = {}
        for reason in ("queue_full", "busy", "timeout", "error", "unsupported", "shutdown"):
            self.shadow_dropped.labels(agent, reason)
        for reason in ("full", "closed", "refused"):
            self.log_dropped.labels(agent, reason)

    def observe(self, version: int | None, role: str, seconds: float, *, failed: bool) -> None:
        children = self._children.get((version, role, failed))
        if children is None:  # labels() costs a lock and a dict look-up per call; keep the children
            labels = (self.agent, str(version), role)
            children = (
                self.requests.labels(*labels, "error" if failed else "ok"),
                self.latency.labels(*labels),
                self.errors.labels(*labels) if failed else None,
            )
            self._children[(version, role, failed)] = children
        children[0].inc()
        children[1].observe(seconds)
        if children[2] is not None:
            children[2].inc()

    def dropped(self, reason: str, n: int = 1) -> None:
        self.shadow_dropped.labels(self.agent, reason).inc(n)

    def render(self) -> bytes:
        from prometheus_client import generate_latest

        return generate_latest(self.registry)

    def value(self, name: str, **labels: Any) -> float:
        """One sample's value (0 when it has not been recorded): for tests and benchmarks."""
        found = self.registry.get_sample_value(name, {k: str(v) for k, v in labels.items()})
        return found or 0.0
