"""SQLAlchemy loaded in the background once a gateway on a SQLite file serves.

Such a gateway opens, checks and reads its store with plain sqlite3 while it starts and builds
the engine and the store's statements at first use (store/database.py): SQLAlchemy is ~0.1 s of
a start's CPU (issue 20, cold start). Its first message would import it on the event loop; here
a thread does it as soon as the server listens, so a message that arrives a moment later finds
it loaded. The collector is paused meanwhile and what the import made is frozen after it, as
for any one-time build while serving (ops/gc_tuning.py): otherwise the young collections the
import triggers walk it, and every later full collection walks it again."""

from __future__ import annotations

import threading

import structlog

from aibot.ops.gc_tuning import build_while_serving
from aibot.store.database import Database, SqliteEngine

log = structlog.get_logger("aibot.store")


def warm_up(engine: Database) -> threading.Thread | None:
    """Starts loading the store's SQLAlchemy side on a thread of its own (None: nothing to
    load, the engine was made with it)."""
    if not isinstance(engine, SqliteEngine) or engine.file is None:
        return None
    thread = threading.Thread(target=_load, args=(engine,), name="store-warm-up", daemon=True)
    thread.start()
    return thread


def _load(engine: SqliteEngine) -> None:
    def imports() -> None:
        from sqlalchemy.dialects.sqlite import insert  # noqa: F401 - the upserts' insert

        import aibot.store.schema  # noqa: F401 - the tables every statement is built from

        engine.sync_engine  # noqa: B018 - made now, not by the first statement

    try:
        build_while_serving(imports)
    except Exception as exc:  # the first statement makes it again, and says why it fails
        log.warning("could not load the store's engine in the background", error=str(exc)[:300])
