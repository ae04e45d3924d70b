"""Albums: the pictures a person sent together, delivered as one update each, become pieces of
one batch; the inbox holds a batch until it is whole and answers its pieces as one message."""

from __future__ import annotations

import asyncio
from typing import Any, cast

from aibot.channels.telegram.inbound import UpdateReader
from aibot.config import TelegramChannelConfig
from aibot.core.batches import BatchHolds, complete, merged
from aibot.core.inbox import Inbox
from aibot.core.messages import Attachment, Inbound, InboxRow, ReplyTarget
from aibot.core.pipeline import TurnContext
from aibot.core.service import ChatService
from aibot.core.sessions import Writer
from aibot.core.shared_inbox import SharedInbox
from aibot.ops.metrics import Metrics
from aibot.store.database import Database
from aibot.store.repository import Repository
from aibot.store.rows import _load, dump_target
from tests.support.clock import FakeClock
from tests.support.databases import writer_for
from tests.support.inbox_parts import AlwaysHeld, Lanes, NoPauses, said


def piece(caption: str | None, *, group: str = "g1", in_group: bool = False) -> dict[str, Any]:
    chat = {"id": -5, "type": "supergroup"} if in_group else {"id": 42, "type": "private"}
    message: dict[str, Any] = {
        "message_id": 9,
        "chat": chat,
        "from": {"id": 7, "is_bot": False},
        "photo": [{"file_id": f"f-{caption}", "width": 10, "height": 10}],
        "media_group_id": group,
    }
    if caption is not None:
        message["caption"] = caption
    return {"update_id": 1, "message": message}


def test_album_pictures_are_pieces_of_one_batch() -> None:
    reader = UpdateReader(TelegramChannelConfig(bot_token="t"), 1, "gw_bot")
    first, second = reader.read(piece("which?")), reader.read(piece(None))
    assert isinstance(first, Inbound) and isinstance(second, Inbound)
    assert first.batch == second.batch == "g1" and second.text == ""
    plain = reader.read({"update_id": 2, "message": {**piece("x")["message"], "photo": []}})
    assert not isinstance(plain, Inbound)  # a media_group_id alone is no piece


def test_in_a_group_an_album_addressed_by_its_caption_is_read_whole() -> None:
    reader = UpdateReader(TelegramChannelConfig(bot_token="t"), 1, "gw_bot")
    mention = [{"type": "mention", "offset": 0, "length": 7}]
    addressed = piece("@gw_bot look", group="a", in_group=True)
    addressed["message"]["caption_entities"] = mention
    assert isinstance(reader.read(addressed), Inbound)
    assert isinstance(reader.read(piece(None, group="a", in_group=True)), Inbound)
    assert reader.read(piece("look", group="b", in_group=True)) is None
    assert reader.read(piece(None, group="b", in_group=True)) is None


def row(number: int, text: str, received: float, batch: str | None = "g") -> InboxRow:
    attachment = Attachment("image", {"file_id": f"f{number}"})
    target = ReplyTarget(42, "private")
    return InboxRow(
        number, "telegram", f"m{number}", "s", "7", text, target, received, 0, None, None,
        (attachment,), batch,
    )  # fmt: skip


def test_merged_pieces_keep_the_first_ids_every_picture_and_the_caption() -> None:
    inbound = merged([row(3, "", 10.0), row(1, "caption", 10.0), row(2, "", 10.0)])
    assert (inbound.inbox_id, inbound.joined, inbound.text) == (1, (2, 3), "caption")
    assert [a.ref["file_id"] for a in inbound.attachments] == ["f1", "f2", "f3"]
    stored = _load(dump_target(ReplyTarget(42, "private"), batch="g"))
    assert stored["_batch"] == "g"


def test_a_batch_is_complete_when_quiet_or_followed() -> None:
    pieces = [row(1, "", 10.0), row(2, "", 11.0)]
    assert not complete(pieces, "g", 2.0, 12.5)
    assert complete(pieces, "g", 2.0, 13.0)
    assert complete([*pieces, row(3, "next", 11.5, batch=None)], "g", 2.0, 11.5)


async def test_holds_release_when_due_or_flushed_and_only_once() -> None:
    now = 100.0
    released: list[tuple[str, str, str]] = []
    holds = BatchHolds(5.0, lambda: now, lambda *key: released.append(key))
    holds.hold("s", "late", "telegram", received_at=90.0)  # due already (after a restart)
    holds.hold("s", "fresh", "telegram", received_at=100.0)
    holds.hold("s", "fresh", "telegram", received_at=99.0)  # an older piece: no change
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert released == [("s", "late", "telegram")]
    holds.flush("s")
    holds.flush("s")
    assert released == [("s", "late", "telegram"), ("s", "fresh", "telegram")]
    holds.hold("t", "other", "telegram", received_at=100.0)
    holds.close()
    await asyncio.sleep(0)
    assert len(released) == 2


class Answering:
    """The ChatService, reduced to recording the message and committing its completion."""

    max_message_chars = 4000

    def __init__(self, writer: Writer) -> None:
        self.dispatcher = Lanes()
        self.asked: list[Inbound] = []
        self._writer = writer

    async def process(
        self, inbound: Inbound, on_delta: Any, *, extra_writes: Any, on_status: Any
    ) -> None:
        self.asked.append(inbound)
        ctx = TurnContext(inbound, 0.0)
        ctx.reply = "answer"
        await self._writer.submit(*extra_writes(ctx))


async def test_after_a_restart_a_held_album_is_answered_once(sql_engine: Database) -> None:
    """The rows are the only record of a held album: a new process holds them again from when
    the newest piece came, and its rescans queue the album once while its lane is busy."""
    repo, writer, clock = Repository(sql_engine), writer_for(sql_engine), FakeClock(100.0)
    writer.start()
    service = Answering(writer)
    parts = (repo, writer, cast(ChatService, service), Metrics(), lambda: None, clock)
    before, after = Inbox(*parts, batch_window=5.0), Inbox(*parts, batch_window=5.0)
    try:
        for number in range(3):
            assert await before.accept(said(clock, number, "album"))
        await before.stop()  # the crash: three pending pieces, nothing answered
        clock.advance(6.0)
        service.dispatcher.busy = True
        for _ in range(3):
            await after.rescan()
            await asyncio.sleep(0)
        assert len(service.dispatcher.queued) == 1
        await service.dispatcher.queued[0]()
        (album,) = service.asked
        assert len(album.attachments) == 3 and await repo.pending_inbox(10, set()) == []
    finally:
        await after.stop()
        await writer.stop()


async def test_replicas_answer_an_album_once_whole(sql_engine: Database) -> None:
    """The shared inbox's drain leaves a batch that is not whole (nor anything after it), and
    answers it as one message once it is quiet or the conversation moved on."""
    repo, writer, clock = Repository(sql_engine), writer_for(sql_engine), FakeClock(100.0)
    writer.start()
    service = Answering(writer)
    inbox = SharedInbox(
        repo,
        writer,
        cast(ChatService, service),
        Metrics(),
        lambda: None,
        clock,
        locks=AlwaysHeld(),
        flags=NoPauses(),
        batch_window=5.0,
    )

    try:
        for number in range(3):
            assert await inbox.accept(said(clock, number, "album", "look" if number == 0 else ""))
        assert not await inbox.accept(said(clock, 0, "album"))  # a re-delivery
        await inbox.rescan()
        await asyncio.gather(*service.dispatcher.jobs)
        assert service.asked == []  # held: its window has not passed
        clock.advance(6.0)
        await inbox.rescan()
        await asyncio.gather(*service.dispatcher.jobs)
        (album,) = service.asked
        assert (album.text, len(album.attachments), len(album.joined)) == ("look", 3, 2)
        assert (await repo.pending_inbox(10, set())) == []

        await inbox.accept(said(clock, 3, "second"))
        await inbox.accept(said(clock, 4, None, "and this?"))  # the conversation moved on
        await asyncio.gather(*service.dispatcher.jobs)
        assert [a.text for a in service.asked[1:]] == ["", "and this?"]
        assert len(service.asked[1].attachments) == 1
    finally:
        await inbox.stop()
        await writer.stop()
