"""The console's numbers, read from the gateway's Prometheus registry (no second count): the
dashboard's snapshot, and each provider's calls and failures for the models page and
`ai-bot canary status` (which reads them from a running gateway's /metrics)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from prometheus_client.metrics_core import Metric

from aibot.ops.metrics import Metrics

REPLIED = ("answered", "sent")


def quantile(buckets: list[tuple[float, float]], q: float) -> float | None:
    """Estimates a quantile from cumulative (upper bound, count) buckets, interpolating
    linearly inside the bucket as Prometheus' histogram_quantile does."""
    if not buckets or buckets[-1][1] <= 0:
        return None
    rank = q * buckets[-1][1]
    lower_bound, lower_count = 0.0, 0.0
    for bound, count in buckets:
        if count >= rank:
            if bound == float("inf"):
                return lower_bound
            span = count - lower_count
            return lower_bound + (bound - lower_bound) * (
                (rank - lower_count) / span if span else 1.0
            )
        lower_bound, lower_count = bound, count
    return lower_bound


def _by_name(metrics: Metrics) -> dict[str, Metric]:
    return {metric.name: metric for metric in metrics.registry.collect()}


def _totals(metric: Metric | None, label: str) -> dict[str, float]:
    totals: dict[str, float] = defaultdict(float)
    for sample in metric.samples if metric else ():
        if sample.name.endswith("_total"):
            totals[sample.labels.get(label, "")] += sample.value
    return dict(totals)


def _histogram(metric: Metric | None, label: str | None = None) -> dict[str, Any]:
    """Count, p50 and p99 per label value (or over all when label is None)."""
    buckets: dict[str, dict[float, float]] = defaultdict(lambda: defaultdict(float))
    for sample in metric.samples if metric else ():
        if sample.name.endswith("_bucket"):
            key = sample.labels.get(label, "") if label else "all"
            buckets[key][float(sample.labels["le"])] += sample.value
    result = {}
    for key, by_bound in buckets.items():
        ordered = sorted(by_bound.items())
        result[key] = {
            "count": ordered[-1][1] if ordered else 0,
            "p50": quantile(ordered, 0.5),
            "p99": quantile(ordered, 0.99),
        }
    return result


def _gauge(metric: Metric | None) -> float:
    return sum(s.value for s in metric.samples) if metric else 0.0


def snapshot(metrics: Metrics) -> dict[str, Any]:
    m = _by_name(metrics)
    outcomes = _totals(m.get("aibot_messages_out"), "outcome")
    return {
        "messages_in": _totals(m.get("aibot_messages_in"), "channel"),
        "messages_out": outcomes,
        # Answered in the request (API, web) or delivered through the outbox (platforms).
        "replies": sum(outcomes.get(name, 0.0) for name in REPLIED),
        "errors": _totals(m.get("aibot_errors"), "kind"),
        "rejected": _totals(m.get("aibot_rejected"), "reason"),
        "tokens": _totals(m.get("aibot_tokens"), "provider"),
        "provider_errors": _totals(m.get("aibot_provider_errors"), "provider"),
        "latency": _histogram(m.get("aibot_message_seconds")).get(
            "all", {"count": 0, "p50": None, "p99": None}
        ),
        "provider_latency": _histogram(m.get("aibot_provider_seconds"), "provider"),
        "queue_depth": _gauge(m.get("aibot_queue_depth")),
        "in_flight": _gauge(m.get("aibot_in_flight")),
        "outbox_pending": _gauge(m.get("aibot_outbox_pending")),
    }


def provider_counts(metrics_text: str) -> dict[str, tuple[int, int]]:
    """(calls, failed calls) per provider from the Prometheus text of /metrics; a call is a
    success (timed in aibot_provider_seconds) or a failure (aibot_provider_errors)."""
    calls: dict[str, float] = {}
    errors: dict[str, float] = {}
    for line in metrics_text.splitlines():
        for prefix, into in (
            ("aibot_provider_seconds_count{", calls),
            ("aibot_provider_errors_total{", errors),
        ):
            if line.startswith(prefix):
                labels, _, value = line[len(prefix) :].partition("} ")
                name = _label(labels, "provider")
                if name is not None:
                    into[name] = into.get(name, 0.0) + float(value)
    return {
        name: (int(calls.get(name, 0) + errors.get(name, 0)), int(errors.get(name, 0)))
        for name in calls.keys() | errors.keys()
    }


def _label(labels: str, key: str) -> str | None:
    for part in labels.split(","):
        name, _, value = part.partition("=")
        if name.strip() == key:
            return value.strip().strip('"')
    return None
