"""Prometheus metrics: one registry per application.

Requests (count and latency by endpoint), and the federation figures an operator watches: the
delivery queue's depth per peer, delivery latency (queued → delivered) and outcomes per peer,
inbox rejects by reason, and charter decisions by article. The delivery, inbox and charter code
report through the small methods below, so label names are spelt in one place.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from server.storage import audit as audit_store
from server.storage import delivery as delivery_store


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "cercle_http_requests",
            "HTTP requests served",
            ["method", "endpoint", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "cercle_http_request_duration_seconds",
            "Time to answer an HTTP request",
            ["endpoint"],
            registry=self.registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
        )
        self.queue_depth = Gauge(
            "cercle_delivery_queue_depth",
            "Deliveries waiting to be made, per peer",
            ["peer"],
            registry=self.registry,
        )
        self.delivery_latency = Histogram(
            "cercle_delivery_latency_seconds",
            "Time from queueing an activity to its delivery, per peer",
            ["peer"],
            registry=self.registry,
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 21600, 86400),
        )
        self.delivery_attempts = Counter(
            "cercle_delivery_attempts",
            "Delivery attempts by peer and outcome (delivered, retry, backoff, gave_up)",
            ["peer", "outcome"],
            registry=self.registry,
        )
        self.delivery_failures = Counter(
            "cercle_delivery_failures",
            "Failed delivery attempts by peer and outcome (every outcome but delivered)",
            ["peer", "outcome"],
            registry=self.registry,
        )
        self.inbox_rejects = Counter(
            "cercle_inbox_rejects",
            "Inbound activities refused, by reason (signature, digest, not_allowed, too_large, ...)",
            ["reason"],
            registry=self.registry,
        )
        self.charter_decisions = Counter(
            "cercle_charter_decisions",
            "Charter decisions by charter, article, stage (publish, ingress, egress, ...) and action",
            ["charter", "article", "stage", "action"],
            registry=self.registry,
        )
        self.charter_decisions_recorded = Gauge(
            "cercle_charter_decisions_recorded",
            "Charter decisions in the audit log (all processes), by charter, article, point and action",
            ["charter", "article", "point", "action"],
            registry=self.registry,
        )
        self._queued_peers: set[str] = set()

    def set_queue_depth(self, depths: Mapping[str, int]) -> None:
        """The whole queue, peer by peer; a peer that is no longer listed drops to zero."""
        for peer in self._queued_peers - set(depths):
            self.queue_depth.labels(peer).set(0)
        for peer, depth in depths.items():
            self.queue_depth.labels(peer).set(depth)
        self._queued_peers |= set(depths)

    def observe_delivery(self, peer: str, outcome: str, latency_seconds: float | None = None) -> None:
        """One delivery attempt; `latency_seconds` (queued → delivered) only for outcome `delivered`."""
        self.delivery_attempts.labels(peer, outcome).inc()
        if outcome == "delivered":
            if latency_seconds is not None:
                self.delivery_latency.labels(peer).observe(max(latency_seconds, 0.0))
        else:
            self.delivery_failures.labels(peer, outcome).inc()

    def count_inbox_reject(self, reason: str) -> None:
        self.inbox_rejects.labels(reason).inc()

    def count_charter_decision(self, charter: str, article: str | None, stage: str, action: str) -> None:
        """One decision; `article` is None when no article applied (the default `allow`)."""
        self.charter_decisions.labels(charter, article or "none", stage, action).inc()


class MetricsMiddleware:
    def __init__(self, app: ASGIApp, *, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            endpoint = scope.get("endpoint")
            name = getattr(endpoint, "__name__", "unmatched")
            self.metrics.requests.labels(scope["method"], name, str(status)).inc()
            self.metrics.latency.labels(name).observe(time.perf_counter() - started)


async def metrics_endpoint(request: Request) -> Response:
    """Figures kept in the database (queue depth, charter decisions) are read at each scrape, so they
    count the work of every process, workers included."""
    metrics: Metrics = request.app.state.metrics
    async with request.app.state.ctx.sessions() as session:
        summary = await delivery_store.queue_summary(session)
        decisions = await audit_store.count_decisions(session)
    metrics.set_queue_depth({domain: count for domain, state, count in summary if state == "pending"})
    for charter, article, point, action, count in decisions:
        metrics.charter_decisions_recorded.labels(charter, article or "none", point, action).set(count)
    return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)
