"""Checking a pooled PostgreSQL/MySQL connection only when it may have gone stale.

`pool_pre_ping` sends a round trip before every checkout: under load that is one more round
trip per read and per group commit, for connections used milliseconds ago (issue 20). What
pre-ping protects against is a connection that went stale while it sat in the pool — the
server restarted, an idle timeout or a firewall closed it — so only a connection idle for
longer than `IDLE_BEFORE_PING` is pinged now. One that the server lost while it was busy
fails its statement; SQLAlchemy then invalidates the whole pool (a disconnect error marks
every older connection stale), so the next checkout connects afresh: reconnect on error. The
caller of that one statement gets the store's usual "unavailable" answer, as during any outage.
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import event
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncEngine

IDLE_BEFORE_PING = 5.0  # seconds a pooled connection may rest and still be trusted unpinged
_LAST_USED = "aibot_last_used"


def ping_when_idle(engine: AsyncEngine, idle: float = IDLE_BEFORE_PING) -> None:
    """Ping a connection at checkout only when it rested longer than `idle` seconds."""
    sync = engine.sync_engine
    dialect = sync.dialect

    def used(_dbapi_connection: Any, record: Any, *_: Any) -> None:
        record.info[_LAST_USED] = time.monotonic()

    def checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        last = record.info.get(_LAST_USED)
        if last is not None and time.monotonic() - last < idle:
            return
        try:
            dialect.do_ping(dbapi_connection)
        except Exception as exc:
            # The pool drops this connection and checks out another (up to three times).
            raise DisconnectionError(f"a pooled connection went stale: {exc}") from exc
        record.info[_LAST_USED] = time.monotonic()

    event.listen(sync, "connect", used)
    event.listen(sync, "checkin", used)
    event.listen(sync, "checkout", checkout)
