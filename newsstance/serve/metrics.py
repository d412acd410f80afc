"""Prometheus metrics of one app, in a registry of its own (never the process-global one, so
two apps in one process, e.g. in tests, do not share or clash)."""

from __future__ import annotations

from typing import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)

CONTENT_TYPE = CONTENT_TYPE_LATEST


class Metrics:
    """Requests by endpoint and status, their latency, model batch sizes and times, errors by kind."""

    def __init__(self):
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter("newsstance_requests", "HTTP requests by endpoint and status code",
                                ["endpoint", "status"], registry=r)
        self.latency = Histogram("newsstance_request_duration_seconds", "HTTP request latency by endpoint",
                                 ["endpoint"], buckets=LATENCY_BUCKETS, registry=r)
        self.errors = Counter("newsstance_errors", "error responses by kind (the `error` field of the body)",
                              ["error"], registry=r)
        self.batch_size = Histogram("newsstance_batch_size", "sentences per model batch", buckets=BATCH_BUCKETS,
                                    registry=r)
        self.batch_seconds = Histogram("newsstance_batch_duration_seconds", "model time per batch",
                                       buckets=LATENCY_BUCKETS, registry=r)
        self.sentences = Counter("newsstance_sentences", "sentences classified", registry=r)
        self.queue = Gauge("newsstance_queue_requests", "requests waiting for the model", registry=r)
        self.ready = Gauge("newsstance_ready", "1 once the model is loaded", registry=r)
        self.info = Info("newsstance", "version, model folder and backend", registry=r)

    def watch_queue(self, pending: Callable[[], int]) -> None:
        self.queue.set_function(pending)

    def observe_batch(self, sentences: int, seconds: float) -> None:
        self.batch_size.observe(sentences)
        self.batch_seconds.observe(seconds)
        self.sentences.inc(sentences)

    def observe_request(self, endpoint: str, status: int, seconds: float) -> None:
        self.requests.labels(endpoint, str(status)).inc()
        self.latency.labels(endpoint).observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)
