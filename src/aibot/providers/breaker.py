"""A circuit breaker per provider, so a vendor that is down costs one fast skip, not retries.

After `threshold` consecutive failed calls (each already retried) the circuit opens and the
router goes straight to the fallbacks; after `cooldown` one trial call is let through, and its
outcome closes or re-opens the circuit. Errors caused by the request itself (400, 404, 422)
say nothing about the provider's health and are not counted.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Literal

State = Literal["closed", "open", "half_open"]


class CircuitBreaker:
    __slots__ = ("_clock", "_cooldown", "_failures", "_opened_at", "_threshold", "_trial_at")

    def __init__(
        self, threshold: int, cooldown: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._threshold = threshold
        self._cooldown = cooldown
        self._clock = clock
        self._failures = 0
        self._opened_at: float | None = None
        # When the current trial call started; a trial that never reports back (cancelled)
        # is given up after another cooldown so the circuit cannot stay stuck open.
        self._trial_at: float | None = None

    @property
    def state(self) -> State:
        if self._opened_at is None:
            return "closed"
        return "half_open" if self._clock() >= self._opened_at + self._cooldown else "open"

    def retry_in(self) -> float:
        """Seconds until a trial call is allowed (0 when closed)."""
        if self._opened_at is None:
            return 0.0
        return max(0.0, self._opened_at + self._cooldown - self._clock())

    def allows(self) -> bool:
        state = self.state
        if state == "closed":
            return True
        now = self._clock()
        if state == "half_open" and (
            self._trial_at is None or now >= self._trial_at + self._cooldown
        ):
            self._trial_at = now
            return True
        return False

    def succeeded(self) -> None:
        self._failures = 0
        self._opened_at = None
        self._trial_at = None

    def failed(self) -> None:
        self._failures += 1
        if self._trial_at is not None or self._failures >= self._threshold:
            self._opened_at = self._clock()
        self._trial_at = None
