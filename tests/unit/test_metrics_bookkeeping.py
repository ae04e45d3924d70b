"""The per-message bookkeeping kept cheap without losing a count: metric children looked up
from the metric's own table."""

from __future__ import annotations

from aibot.ops.metrics import Metrics


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
