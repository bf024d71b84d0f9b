"""Prometheus metrics of this process (each node serves its own at /metrics)."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator, Sequence

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector

REGISTRY = CollectorRegistry(auto_describe=True)


class LabelledCount(Collector):
    """A counter by one label kept as plain ints: the per-frame counters are bumped
    several times per message, and prometheus_client's take a lock each time."""

    def __init__(self, name: str, documentation: str, label: str) -> None:
        self.name, self.documentation, self.label = name, documentation, label
        self.values: dict[str, int] = {}
        REGISTRY.register(self)

    def inc(self, key: str, amount: int = 1) -> None:
        values = self.values
        values[key] = values.get(key, 0) + amount

    def collect(self) -> Iterator[CounterMetricFamily]:
        family = CounterMetricFamily(self.name, self.documentation, labels=[self.label])
        for key, value in sorted(self.values.items()):
            family.add_metric([key], value)
        yield family

    def describe(self) -> Iterator[CounterMetricFamily]:
        yield CounterMetricFamily(self.name, self.documentation, labels=[self.label])


OPEN_SOCKETS = Gauge(
    "pounce_open_sockets", "WebSockets open now, by kind", ["kind"], registry=REGISTRY
)


class FastHistogram(Collector):
    """A histogram for per-message observations: a list of bucket counts, no lock
    (everything that observes runs on the event loop's thread)."""

    def __init__(self, name: str, documentation: str, buckets: Sequence[float]) -> None:
        self.name, self.documentation = name, documentation
        self.bounds = list(buckets)
        self.counts = [0] * (len(self.bounds) + 1)
        self.sum = 0.0
        REGISTRY.register(self)

    def observe(self, value: float) -> None:
        self.counts[bisect_left(self.bounds, value)] += 1
        self.sum += value

    def collect(self) -> Iterator[HistogramMetricFamily]:
        cumulative, total = [], 0
        for bound, count in zip([*self.bounds, float("inf")], self.counts, strict=True):
            total += count
            cumulative.append((str(bound) if bound != float("inf") else "+Inf", total))
        family = HistogramMetricFamily(self.name, self.documentation)
        family.add_metric([], cumulative, self.sum)
        yield family

    def describe(self) -> Iterator[HistogramMetricFamily]:
        yield HistogramMetricFamily(self.name, self.documentation)


FRAMES_IN = LabelledCount("pounce_frames_in", "Client frames received, by socket kind", "kind")
FRAMES_OUT = LabelledCount("pounce_frames_out", "Frames queued to clients, by socket kind", "kind")
frame_in = FRAMES_IN.inc
frame_out = FRAMES_OUT.inc
FRAME_ERRORS = Counter(
    "pounce_frame_errors_total", "Error frames sent, by code", ["code"], registry=REGISTRY
)
MESSAGES_STORED = Counter(
    "pounce_messages_stored_total", "Chat messages durably stored", registry=REGISTRY
)
COMMIT_BATCH = FastHistogram(
    "pounce_commit_batch_messages",
    "Messages per group-commit transaction",
    (1, 2, 4, 8, 16, 32, 64, 128, 256, 512),
)
DELIVERY = FastHistogram(
    "pounce_delivery_latency_seconds",
    "From a message frame's arrival to its commit and publication on the bus",
    (0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0),
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
REPLAYED_BYTES = Counter(
    "pounce_replayed_bytes_total",
    "Bytes of conversation history replayed to resuming clients",
    registry=REGISTRY,
)
OUTBOX_DELIVERIES = LabelledCount(
    "pounce_outbox_deliveries",
    "Outbox delivery attempts by this process, by outcome (done, retry, failed)",
    "outcome",
)
OUTBOX_ROWS = Gauge(
    "pounce_outbox_rows",
    "Outbox rows of every org now: pending, and failed (parked for an admin)",
    ["status"],
    registry=REGISTRY,
)


def render() -> bytes:
    return generate_latest(REGISTRY)
