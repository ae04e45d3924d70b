"""The per-message bookkeeping kept cheap without losing a count: metric children looked up
from the metric's own table."""

from __future__ import annotations

import math

import prometheus_client
import pytest
from prometheus_client import CollectorRegistry

from aibot.ops.metrics import _LATENCY_BUCKETS, Metrics


def sample(metrics: Metrics, name: str, labels: dict[str, str]) -> float | None:
    return metrics.registry.get_sample_value(name, labels)


def test_known_label_sets_are_the_same_children_and_new_ones_are_made() -> None:
    metrics = Metrics()
    first = metrics.messages_out.labels("api", "answered")
    assert metrics.messages_out.labels("api", "answered") is first
    first.inc()
    metrics.messages_out.labels("api", "answered").inc(2)
    metrics.messages_out.labels("api", "failed").inc()
    metrics.messages_out.labels(channel="openai", outcome="answered").inc()
    assert (
        sample(metrics, "aibot_messages_out_total", {"channel": "api", "outcome": "answered"}) == 3
    )
    assert sample(metrics, "aibot_messages_out_total", {"channel": "api", "outcome": "failed"}) == 1
    openai = {"channel": "openai", "outcome": "answered"}
    assert sample(metrics, "aibot_messages_out_total", openai) == 1
    metrics.message_latency.labels("api").observe(0.002)
    assert sample(metrics, "aibot_message_seconds_count", {"channel": "api"}) == 1.0


def test_the_per_message_values_take_no_lock() -> None:
    """Counted on the event loop only (ops/metrics.py): no mutex per update."""
    metrics = Metrics()
    counter = metrics.messages_in.labels("api")
    histogram = metrics.message_latency.labels("api")
    for value in (counter._value, histogram._sum, *histogram._buckets):
        assert not hasattr(value, "_lock")


def test_counts_and_buckets_render_as_prometheus_client_renders_them() -> None:
    ours = Metrics()
    theirs = CollectorRegistry()
    latency = prometheus_client.Histogram(
        "aibot_message_seconds", "x", ["channel"], buckets=_LATENCY_BUCKETS, registry=theirs
    )
    count = prometheus_client.Counter("aibot_messages_in", "x", ["channel"], registry=theirs)
    # Below, on and between the bounds, past the last one, zero, negative, infinite and NaN.
    for amount in (-1.0, 0.0, 0.001, 0.0011, 0.0025, 0.7, 60, 61, math.inf, math.nan):
        ours.message_latency.labels("api").observe(amount)
        latency.labels("api").observe(amount)
    for amount in (1, 2.5, 0):
        ours.messages_in.labels("api").inc(amount)
        count.labels("api").inc(amount)
    with pytest.raises(ValueError):
        ours.messages_in.labels("api").inc(-1)
    with pytest.raises(ValueError):
        ours.messages_in.inc()  # a parent of labelled children
    for name in ("aibot_message_seconds", "aibot_messages_in"):
        mine = next(m for m in ours.registry.collect() if m.name == name)
        reference = next(m for m in theirs.collect() if m.name == name)
        assert [
            (s.name, s.labels, repr(s.value)) for s in mine.samples if "created" not in s.name
        ] == [
            (s.name, s.labels, repr(s.value)) for s in reference.samples if "created" not in s.name
        ]
