"""The hand-rolled collectors expose what Prometheus parsers expect."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from pounce import metrics


def _families() -> dict[str, object]:
    return {f.name: f for f in text_string_to_metric_families(metrics.render().decode())}


def test_frame_counters_and_histograms_parse() -> None:
    before = metrics.FRAMES_IN.values.get("messenger", 0)
    metrics.frame_in("messenger")
    metrics.frame_in("messenger", 2)
    metrics.DELIVERY.observe(0.0003)
    metrics.DELIVERY.observe(5.0)  # beyond the last bucket: only +Inf counts it
    families = _families()
    frames = families["pounce_frames_in"]
    samples = {
        (s.name, s.labels.get("kind")): s.value
        for s in frames.samples  # type: ignore[attr-defined]
    }
    assert samples[("pounce_frames_in_total", "messenger")] == before + 3
    delivery = families["pounce_delivery_latency_seconds"]
    buckets = {
        s.labels["le"]: s.value
        for s in delivery.samples  # type: ignore[attr-defined]
        if s.name.endswith("_bucket")
    }
    count = next(
        s.value
        for s in delivery.samples  # type: ignore[attr-defined]
        if s.name.endswith("_count")
    )
    assert buckets["+Inf"] == count
    one_second = next(v for k, v in buckets.items() if k != "+Inf" and float(k) == 1.0)
    assert one_second == count - 1
    values = [buckets[k] for k in sorted(buckets, key=lambda k: float(k))]
    assert values == sorted(values)  # cumulative
