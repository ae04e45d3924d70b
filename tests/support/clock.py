"""The one fake clock of the suite, for code that takes `clock: Callable[[], float]`."""

from __future__ import annotations


class FakeClock:
    """Stands still until the test moves it (`clock.now += 30` or `clock.advance(30)`), so
    windows, expiries and back-offs are checked to the second without sleeping."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
