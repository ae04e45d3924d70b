"""Pieces a platform delivers apart that a person sent as one message: a Telegram album (several
pictures and one caption, each its own update with the same `media_group_id`).

Each piece is committed to the inbox as it comes, like any message: nothing accepted is lost
and a re-delivery is dropped by its own id. The inbox then holds the batch until `window`
seconds have passed since its newest piece was received, or until the conversation moves on (a
later message of the session arrived), and answers its pieces as one message (`merged`): one
model call with every attachment, one reply, and every piece's row finished in the transaction
that stores that reply. The pending rows are the only record of a held batch: after a crash the
rescan finds them and holds them again, counting the window from when the newest piece was
received, so a batch is answered once and whole. A piece that comes after its batch was
answered is answered on its own.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

from aibot.core.messages import Inbound, InboxRow

BATCH_READ = 50  # a session's pending rows read to find a batch's pieces (an album has ≤ 10)


def inbound_from_row(row: InboxRow) -> Inbound:
    """A stored message as it was accepted, with its principal and request id."""
    return Inbound(
        channel=row.channel,
        session_key=row.session_key,
        user_id=row.user_id,
        text=row.text,
        request_id=row.request_id or f"inbox-{row.id}",
        received_at=row.received_at,
        message_id=row.message_id,
        target=row.target,
        principal=row.principal,
        inbox_id=row.id,
        attachments=row.attachments,
        batch=row.batch,
    )


def merged(pieces: Sequence[InboxRow]) -> Inbound:
    """The pieces of one batch as one message: the first piece's ids and reply target, the
    words of every piece (an album's caption) and all their attachments, in arrival order."""
    first, *rest = sorted(pieces, key=lambda row: row.id)
    inbound = inbound_from_row(first)
    inbound.text = "\n".join(row.text for row in (first, *rest) if row.text.strip())
    inbound.attachments = tuple(a for row in (first, *rest) for a in row.attachments)
    inbound.joined = tuple(row.id for row in rest)
    return inbound


def pieces_of(rows: Sequence[InboxRow], batch: str) -> list[InboxRow]:
    return [row for row in rows if row.batch == batch]


def complete(rows: Sequence[InboxRow], batch: str, window: float, now: float) -> bool:
    """Whether the batch among a session's pending `rows` is whole: quiet for `window` seconds,
    or followed by another message of the session."""
    pieces = pieces_of(rows, batch)
    first = min(row.id for row in pieces)
    if any(row.batch != batch and row.id > first for row in rows):
        return True
    return max(row.received_at for row in pieces) + window <= now


class BatchHolds:
    """The timers of held batches, by (session, batch): `release(session_key, batch, channel)`
    is called once `window` seconds passed since the newest piece, or at `flush`."""

    def __init__(
        self,
        window: float,
        clock: Callable[[], float],
        release: Callable[[str, str, str], None],
    ) -> None:
        self.window = window
        self._clock = clock
        self._release = release
        self._held: dict[tuple[str, str], tuple[float, str, asyncio.TimerHandle]] = {}

    def hold(self, session_key: str, batch: str, channel: str, received_at: float) -> None:
        """Holds the batch until `window` after `received_at`, or later if already so held."""
        key = (session_key, batch)
        due = received_at + self.window
        held = self._held.get(key)
        if held is not None:
            if held[0] >= due:
                return
            held[2].cancel()
        delay = max(0.0, due - self._clock())
        handle = asyncio.get_running_loop().call_later(delay, self._due, key)
        self._held[key] = (due, channel, handle)

    def flush(self, session_key: str) -> None:
        """Releases the session's held batches now: a later message must not overtake them."""
        for key in [key for key in self._held if key[0] == session_key]:
            self._held[key][2].cancel()
            self._due(key)

    def close(self) -> None:
        for _, _, handle in self._held.values():
            handle.cancel()
        self._held.clear()

    def _due(self, key: tuple[str, str]) -> None:
        _, channel, _ = self._held.pop(key)
        self._release(key[0], key[1], channel)
