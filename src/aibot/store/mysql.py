"""MySQL and MariaDB as the store: the DDL they need to hold what SQLite and PostgreSQL hold.

The schema and the migrations are written once with generic types; on MySQL three of them
would lose data, so DDL compiled for MySQL changes them here (for `create_all` and Alembic alike):
- `Float` would be a 4-byte FLOAT, whose ~7 digits turn UNIX times into 2-minute steps: DOUBLE;
- `Text` would be TEXT, at most 64 KiB: a long answer (or its ciphertext) needs LONGTEXT;
- a table takes the database's default character set, which on older cloud instances is
  `utf8` (3 bytes: no emoji) or latin1: every table is created utf8mb4 explicitly, with a
  binary no-pad collation, so keys compare exactly as on PostgreSQL ("A" ≠ "a", "x" ≠ "x ")
  and the inbox never drops a message as a duplicate of one that differs in case.

Replicas that start together take `GET_LOCK` around migrations, as PostgreSQL takes an advisory
lock: one migrates, the others wait and then find the schema current.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import Float, Text, text
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.schema import CreateTable

if TYPE_CHECKING:
    from aibot.store.database import DatabaseConnection

MIGRATION_LOCK = "ai-bot-migrations"
MIGRATION_LOCK_WAIT = 120  # seconds; a first migration of a big table can take a while


@compiles(Float, "mysql")
def _double(_type: Float[Any], _compiler: Any, **_kw: Any) -> str:
    return "DOUBLE"


@compiles(Text, "mysql")
def _longtext(_type: Text, _compiler: Any, **_kw: Any) -> str:
    return "LONGTEXT"


@compiles(CreateTable, "mysql")
def _utf8mb4_table(create: CreateTable, compiler: Any, **kw: Any) -> str:
    statement: str = compiler.visit_create_table(create, **kw)
    return f"{statement.rstrip()} DEFAULT CHARSET=utf8mb4 COLLATE={collation(compiler.dialect)}"


def collation(dialect: Any) -> str:
    """Binary and NO PAD where the server has one (MariaDB 10.2+, MySQL 8.0+)."""
    if dialect.is_mariadb:
        return "utf8mb4_nopad_bin"
    if dialect.server_version_info and dialect.server_version_info >= (8, 0):
        return "utf8mb4_0900_bin"
    return "utf8mb4_bin"


async def lock_migrations(connection: DatabaseConnection) -> None:
    got = (
        await connection.execute(
            text("SELECT GET_LOCK(:name, :wait)"),
            {"name": MIGRATION_LOCK, "wait": MIGRATION_LOCK_WAIT},
        )
    ).scalar()
    if got != 1:
        raise TimeoutError(
            f"another ai-bot has been migrating this database for {MIGRATION_LOCK_WAIT}s; "
            "try again when it has finished"
        )


async def unlock_migrations(connection: DatabaseConnection) -> None:
    """A named lock belongs to the session, which the pool keeps open: release it explicitly."""
    await connection.execute(text("SELECT RELEASE_LOCK(:name)"), {"name": MIGRATION_LOCK})
