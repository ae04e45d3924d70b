"""Garbage-collector settings for a long-running server.

Measured on the target box under load, CPython's default thresholds ran a full (generation 2)
collection every few hundred messages, each walking the whole heap — mostly objects created at
import time that never die — for 100–230 ms while nothing else ran. Freezing the start-up heap
takes those objects out of every later collection, and a larger young-generation threshold
makes collections rarer without letting garbage pile up (reference counting frees most objects
immediately; the collector only exists for cycles).

What is imported later, when a feature is first used (GraphQL, the pages' templates: see
ARCHITECTURE.md), would otherwise stay in the collected heap for good: Strawberry's schema alone
is ~34,000 objects, which made every full collection after the first /graphql request take
17–60 ms on the loaded 2-core box instead of well under 1 ms. Such one-time builds call
`settle_after_build` so they are frozen too.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

YOUNG_THRESHOLD = 50_000


@contextmanager
def no_collections_while_starting() -> Iterator[None]:
    """Around `ai-bot run`: the collector stays off until `tune_for_serving` turns it on.

    Nearly everything a start creates (~1,150 modules, the config, the routes, the store) lives
    as long as the server, so a collection during the start walks a growing heap only to find it
    alive: measured, ~330 collections (three of them full) took ~0.26 s of a 1.4 s start. The one
    full collection in `tune_for_serving` frees the start's garbage cycles instead. The start's
    work is bounded (imports, the config, schema DDL), so garbage cannot pile up meanwhile; a start
    that fails turns the collector back on when it leaves, for callers that live on (tests).
    """
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def tune_for_serving() -> None:
    """Call once the app is fully started, before traffic arrives."""
    settle_after_build()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
    gc.enable()  # off while starting, under `ai-bot run` (no_collections_while_starting)


def settle_after_build() -> None:
    """Free the garbage cycles a build left, then take everything alive out of later
    collections. One full collection, once per build: call it only after one-time work."""
    gc.collect()
    gc.freeze()
