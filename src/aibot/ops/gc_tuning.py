"""Garbage-collector settings for a long-running server.

Measured on the target box under load, CPython's default thresholds ran a full (generation 2)
collection every few hundred messages, each walking the whole heap — mostly objects created at
import time that never die — for 100–230 ms while nothing else ran. Freezing the start-up heap
takes those objects out of every later collection; reference counting frees almost everything
a message makes (the collector only exists for cycles), so what a young collection walks is
what survived since the last one: the messages in flight and what the caches took in.

A collection's pause grows with what it walks, so the young threshold bounds the pause: at
50,000 the one collection while the conversation cache filled walked ~21,000–45,000 objects
(16–29 ms of CPU on the loaded box), at 10,000 each took 4–6 ms, one per 1,500–14,000 messages.
Lower thresholds add generation-1 collections (12–13 ms) and CPU per message, and the
collections free next to nothing either way: bench/README.md, issue 20 step 11, has the sweep.

What is imported later, when a feature is first used (GraphQL, the pages' templates: see
ARCHITECTURE.md), would otherwise stay in the collected heap for good: Strawberry's schema alone
is ~34,000 objects, which made every full collection after the first /graphql request take
17–60 ms on the loaded 2-core box. Such one-time builds call `settle_after_build` so they are
frozen too.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

YOUNG_THRESHOLD = 10_000


@contextmanager
def no_collections_while_starting() -> Iterator[None]:
    """Around `ai-bot run`: the collector stays off until `tune_for_serving` turns it on.

    Nearly everything a start creates (~1,150 modules, the config, the routes, the store) lives
    as long as the server, so a collection during the start walks a growing heap only to find it
    alive: measured, ~330 collections (three of them full) took ~0.26 s of a 1.4 s start. The
    start's work is bounded (imports, the config, schema DDL), so garbage cannot pile up
    meanwhile, and `tune_for_serving` freezes what it left rather than collecting it. A start
    that fails turns the collector back on when it leaves, for callers that live on (tests).
    """
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def tune_for_serving() -> None:
    """Call once the app is fully started, before traffic arrives: freeze the start-up heap and
    turn the collector on with the serving threshold.

    After a start with the collector off (`no_collections_while_starting`) the heap is frozen as
    it is: the garbage such a start leaves was measured at 1,580 objects, ~0.4 MB (the store
    check's disposed engine, its closed connection and finished thread, import-time cycles),
    and the full collection that would free it walked all ~190,000 objects, 80–140 ms of the
    start's CPU. A host that ran with the collector on (tests starting many apps in one
    process) may hold any amount of garbage, so it is collected first there."""
    if gc.isenabled():
        gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
    gc.enable()


def settle_after_build() -> None:
    """Take what a one-time build made (and everything else alive) out of later collections.

    No collection first: this runs while serving, where a full collection would walk the build
    (~34,000 objects for GraphQL, 13–60 ms) while requests wait, to free next to nothing (24
    objects after the GraphQL schema, none after the pages' templates). What is alive and
    frozen is still freed by reference counting when it dies; only a cycle it later becomes
    part of stays, and the requests in flight at that moment make none (a soak's memory stays
    flat without collections)."""
    gc.freeze()
