"""Prometheus metrics of this process (each node serves its own at /metrics)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

REGISTRY = CollectorRegistry(auto_describe=True)

OPEN_SOCKETS = Gauge(
    "pounce_open_sockets", "WebSockets open now, by kind", ["kind"], registry=REGISTRY
)
FRAMES_IN = Counter(
    "pounce_frames_in_total", "Client frames received, by socket kind", ["kind"], registry=REGISTRY
)
FRAMES_OUT = Counter(
    "pounce_frames_out_total",
    "Frames queued to clients, by socket kind",
    ["kind"],
    registry=REGISTRY,
)
FRAME_ERRORS = Counter(
    "pounce_frame_errors_total", "Error frames sent, by code", ["code"], registry=REGISTRY
)
MESSAGES_STORED = Counter(
    "pounce_messages_stored_total", "Chat messages durably stored", registry=REGISTRY
)
COMMIT_BATCH = Histogram(
    "pounce_commit_batch_messages",
    "Messages per group-commit transaction",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512),
    registry=REGISTRY,
)
DELIVERY = Histogram(
    "pounce_delivery_latency_seconds",
    "From a message frame's arrival to its commit and publication on the bus",
    buckets=(0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0),
    registry=REGISTRY,
)
JOB_LAG = Histogram(
    "pounce_job_lag_seconds",
    "How late a durable job ran after its due time",
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30),
    registry=REGISTRY,
)
BUS_RECONNECTS = Counter(
    "pounce_bus_reconnects_total", "Times the Redis bus reconnected", registry=REGISTRY
)
SLOW_CLIENTS = Counter(
    "pounce_slow_client_closes_total",
    "Sockets closed because their send queue filled",
    registry=REGISTRY,
)


def render() -> bytes:
    return generate_latest(REGISTRY)
