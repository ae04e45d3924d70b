"""Prometheus metrics on a registry per gateway, so several can run in one test process.

Every count and observation is made on the event loop (the threads the gateway starts, the
store's writer and reader among them, never touch a metric), so a value needs no lock: each
counter and histogram of the per-message path holds plain floats (`_LoopValue`) instead of
prometheus_client's value with a mutex, and a histogram finds its bucket by bisection.
A message makes about ten such updates; with the lock, the checks and the linear bucket search
they were 3-5 % of the gateway's CPU (issue 20). What a scrape reads is unchanged.
"""

from __future__ import annotations

from bisect import bisect_left
from typing import Any, Self

import prometheus_client
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.metrics import MetricWrapperBase

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
_LAG_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5)


class _KnownLabels(MetricWrapperBase):
    """`labels(...)` of a label set seen before straight from the metric's own children (one
    dict read), not through prometheus_client's checks and lock: the per-message path asks
    for a handful of children on every message, and they never change once made."""

    def labels(self, *labelvalues: Any, **labelkwargs: Any) -> Self:
        known: dict[tuple[Any, ...], Self] | None = self.__dict__.get("_metrics")
        child = known.get(labelvalues) if known is not None and not labelkwargs else None
        return child if child is not None else super().labels(*labelvalues, **labelkwargs)


class _LoopValue:
    """A metric's value, changed on the event loop only: what prometheus_client's `MutexValue`
    does, without the mutex."""

    __slots__ = ("_exemplar", "_value")
    _multiprocess = False

    def __init__(self) -> None:
        self._value = 0.0
        self._exemplar: Any = None

    def inc(self, amount: float) -> None:
        self._value += amount

    def set(self, value: float, timestamp: float | None = None) -> None:
        self._value = value

    def set_exemplar(self, exemplar: Any) -> None:
        self._exemplar = exemplar

    def get(self) -> float:
        return self._value

    def get_exemplar(self) -> Any:
        return self._exemplar


class Counter(_KnownLabels, prometheus_client.Counter):
    def _metric_init(self) -> None:
        super()._metric_init()
        self._value = _LoopValue()

    def inc(self, amount: float = 1, exemplar: dict[str, str] | None = None) -> None:
        if amount < 0 or exemplar or (self._labelnames and not self._labelvalues):
            super().inc(amount, exemplar)  # its refusals, and the exemplar's checks
            return
        self._value.inc(amount)


class Gauge(_KnownLabels, prometheus_client.Gauge):
    pass


class Histogram(_KnownLabels, prometheus_client.Histogram):
    def _metric_init(self) -> None:
        super()._metric_init()
        self._sum = _LoopValue()
        self._buckets = [_LoopValue() for _ in self._upper_bounds]

    def observe(self, amount: float, exemplar: dict[str, str] | None = None) -> None:
        # NaN falls in no bucket; a parent of labelled children is refused.
        if exemplar or amount != amount or (self._labelnames and not self._labelvalues):
            super().observe(amount, exemplar)
            return
        self._sum.inc(amount)
        # The first bound not below `amount`, as prometheus_client's loop finds it (the last
        # bound is +Inf).
        self._buckets[bisect_left(self._upper_bounds, amount)].inc(1)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.messages_in = Counter(
            "aibot_messages_in", "Messages received, by channel.", ["channel"], registry=r
        )
        self.messages_out = Counter(
            "aibot_messages_out",
            "Replies delivered, by channel and outcome.",
            ["channel", "outcome"],
            registry=r,
        )
        self.dedupe_hits = Counter(
            "aibot_dedupe_hits",
            "Re-delivered messages dropped by the inbox.",
            ["channel"],
            registry=r,
        )
        self.stage_latency = Histogram(
            "aibot_stage_seconds",
            "Time pipeline stages wait on I/O: the store, the limiter, the cache, the model.",
            ["stage"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.message_latency = Histogram(
            "aibot_message_seconds",
            "Whole pipeline time per message, by channel.",
            ["channel"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.provider_latency = Histogram(
            "aibot_provider_seconds",
            "Model call time, by provider.",
            ["provider"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.provider_errors = Counter(
            "aibot_provider_errors",
            "Failed model calls, by provider and kind.",
            ["provider", "kind"],
            registry=r,
        )
        self.tokens = Counter(
            "aibot_tokens",
            "Model tokens, by provider and direction.",
            ["provider", "direction"],
            registry=r,
        )
        self.circuit_open = Gauge(
            "aibot_provider_circuit_open",
            "1 while a provider's circuit is open.",
            ["provider"],
            registry=r,
        )
        self.errors = Counter(
            "aibot_errors",
            "Messages that ended in an error, by channel and kind.",
            ["channel", "kind"],
            registry=r,
        )
        self.queue_depth = Gauge(
            "aibot_queue_depth", "Messages waiting in the dispatcher.", registry=r
        )
        self.in_flight = Gauge("aibot_in_flight", "Messages being processed now.", registry=r)
        self.outbox_pending = Gauge(
            "aibot_outbox_pending", "Replies waiting to be delivered.", registry=r
        )
        self.outbox_oldest = Gauge(
            "aibot_outbox_oldest_seconds",
            "Age of the oldest reply waiting to be delivered.",
            registry=r,
        )
        self.inbox_pending = Gauge(
            "aibot_inbox_pending",
            "Received messages not yet answered (sampled every rescan).",
            registry=r,
        )
        self.inbox_oldest = Gauge(
            "aibot_inbox_oldest_seconds",
            "Age of the oldest message not yet answered.",
            registry=r,
        )
        self.loop_lag = Gauge(
            "aibot_event_loop_lag_seconds",
            "How late the event loop ran the last timer sample.",
            registry=r,
        )
        self.loop_lag_samples = Histogram(
            "aibot_event_loop_lag_samples_seconds",
            "Every event-loop lag sample, for quantiles "
            "and alerts that must not miss a spike between scrapes.",
            buckets=_LAG_BUCKETS,
            registry=r,
        )
        self.outbox_expired = Counter(
            "aibot_outbox_expired",
            "Replies too old to send, by channel.",
            ["channel"],
            registry=r,
        )
        self.rejected = Counter(
            "aibot_rejected",
            "Messages refused before the model, by reason.",
            ["reason"],
            registry=r,
        )

        self.routed = Counter(
            "aibot_routed",
            "Messages by the route that matched (default: none).",
            ["route"],
            registry=r,
        )
        self.policy_events = Counter(
            "aibot_policy_events",
            "Policy decisions: sensitive words, cache hits and misses.",
            ["policy", "outcome"],
            registry=r,
        )
        self.feedback = Counter(
            "aibot_feedback",
            "Answer ratings (a changed rating counts again), by channel, "
            "provider, route and rating.",
            ["channel", "provider", "route", "rating"],
            registry=r,
        )
        self.replicas_alive = Gauge(
            "aibot_replicas_alive",
            "Scale-out mode: replicas whose heartbeat is current, as this replica last saw them.",
            registry=r,
        )
        self.receiving = Gauge(
            "aibot_receiving",
            "Scale-out mode: 1 where this replica holds the channel's "
            "receiver lease (long poll / long connection), 0 on standby.",
            ["channel"],
            registry=r,
        )
        self.tool_calls = Counter(
            "aibot_tool_calls",
            "Tool calls, by tool and outcome (ok, error, timeout, denied, unavailable).",
            ["tool", "outcome"],
            registry=r,
        )
        self.tool_latency = Histogram(
            "aibot_tool_seconds",
            "Tool call time, by tool.",
            ["tool"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.media_in = Counter(
            "aibot_media_in",
            "Pictures, voice notes and files received, by channel and kind.",
            ["channel", "kind"],
            registry=r,
        )
        self.media_bytes = Counter(
            "aibot_media_bytes", "Bytes of attachments downloaded, by kind.", ["kind"], registry=r
        )
        self.media_seconds = Histogram(
            "aibot_media_seconds",
            "Attachment work by step: download, transcribe, extract, image.",
            ["step"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.media_errors = Counter(
            "aibot_media_errors",
            "Attachments not used, by step and reason (too_big, not_an_image, fetch_failed…).",
            ["step", "reason"],
            registry=r,
        )
        self.locks_lapsed = Counter(
            "aibot_session_locks_lapsed",
            "Scale-out mode: session locks this replica found taken or expired while it held "
            "them (renewed later than redis.lease_ttl): another replica may have asked the "
            "model again for the same message; the answer stays single.",
            registry=r,
        )
        self.coordination_up = Gauge(
            "aibot_coordination_up",
            "Scale-out mode: 1 while Redis answered the last heartbeat.",
            registry=r,
        )

    def summary(self) -> str:
        """Totals since start for the admin's /stats: messages, tokens, refusals, errors."""
        lines = []
        for counter, label in (
            (self.messages_in, "messages in"),
            (self.tokens, "tokens"),
            (self.rejected, "refused"),
            (self.errors, "errors"),
        ):
            parts = [
                "/".join(sample.labels.values()) + f" {sample.value:.0f}"
                for metric in counter.collect()
                for sample in metric.samples
                if sample.name.endswith("_total") and sample.value
            ]
            lines.append(f"{label}: " + (", ".join(parts) or "0"))
        return "\n".join(lines)

    def render(self) -> bytes:
        return generate_latest(self.registry)
