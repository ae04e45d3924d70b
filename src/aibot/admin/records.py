"""The console's view of conversations: searches cleaned as typed into a page, and a
transcript that joins the turns archived to the bucket with those still in the database.

The SQL lives in `store/records.py`; what is here is the console's part: what people type is
made printable and bounded before it reaches the store, and a bucket that cannot be read
leaves its turns out of the page (with a warning in the log) rather than failing it."""

from __future__ import annotations

from typing import TYPE_CHECKING

import structlog

from aibot.admin.inputs import printable
from aibot.store import records
from aibot.store.crypto import PLAIN, Cipher
from aibot.store.database import Database
from aibot.store.records import ConversationSummary, Turn

if TYPE_CHECKING:
    from aibot.store.archive.bucket import Bucket

log = structlog.get_logger("aibot.admin")


async def search_conversations(
    engine: Database, query: str, limit: int = 50, cipher: Cipher = PLAIN
) -> list[ConversationSummary]:
    """Newest first; `query` matches the session key, the user id or any turn's text."""
    return await records.search_conversations(engine, printable(query, 200), limit, cipher)


async def transcript(
    engine: Database,
    session_key: str,
    limit: int = 1000,
    cipher: Cipher = PLAIN,
    archive: Bucket | None = None,
) -> list[Turn]:
    """The conversation oldest first: archived turns are read from the bucket in place (a
    bucket that cannot be read leaves them out, with a warning in the log)."""
    older = await _archived(engine, session_key, limit, cipher, archive)
    return older + await records.stored_turns(engine, session_key, limit - len(older), cipher)


async def _archived(
    engine: Database, session_key: str, limit: int, cipher: Cipher, archive: Bucket | None
) -> list[Turn]:
    if archive is None or "\x00" in session_key:
        return []
    from aibot.store.archive.bucket import ArchiveError
    from aibot.store.archive.restore import archived_stubs, read_object

    found: list[Turn] = []
    try:
        for stub in await archived_stubs(engine, session_key):
            rows = await read_object(archive, stub)
            found += [
                Turn(r["role"], cipher.open(r["content"]), r["provider"], r["created_at"])
                for r in rows
            ]
            if len(found) >= limit:
                break
    except ArchiveError as exc:
        log.warning("archived turns could not be read", session=session_key, error=str(exc))
    return found[:limit]
