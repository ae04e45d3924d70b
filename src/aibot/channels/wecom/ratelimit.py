"""WeCom's per-member send limits, kept on our side because WeCom drops the excess silently.

An app may send one member at most 30 messages a minute and 1000 an hour; past that,
`message/send` still answers ok and the member never sees the message. So before each send the
channel asks how long to wait, and the outbox re-queues the reply for exactly that long.
The windows slide (timestamps of recent sends), and live in memory: after a restart the first
window may go over by what was sent just before it.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

LIMITS = ((30, 60.0), (1000, 3600.0))  # (sends, window seconds) per member per app


class MemberLimiter:
    def __init__(
        self,
        limits: tuple[tuple[int, float], ...] = LIMITS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._limits = limits
        self._longest = max(window for _count, window in limits)
        self._clock = clock
        self._sent: dict[str, deque[float]] = {}

    def wait(self, member: str) -> float:
        """Seconds until `member` may be sent another message; 0.0 means now."""
        sent = self._recent(member)
        now = self._clock()
        wait = 0.0
        for count, window in self._limits:
            in_window = [at for at in sent if at > now - window]
            if len(in_window) >= count:
                # The oldest send that must leave the window before one more fits.
                wait = max(wait, in_window[-count] + window - now)
        return wait

    def record(self, member: str) -> None:
        self._sent.setdefault(member, deque()).append(self._clock())
        if len(self._sent) > 10_000:  # forget members with nothing left in any window
            for name in [m for m in self._sent if not self._recent(m)]:
                del self._sent[name]

    def _recent(self, member: str) -> deque[float]:
        sent = self._sent.get(member)
        if sent is None:
            return deque()
        horizon = self._clock() - self._longest
        while sent and sent[0] <= horizon:
            sent.popleft()
        return sent
