"""CPU per message of the group commit alone on PostgreSQL: a message's writes (its
conversation's upsert and two turns) submitted by `--concurrency` tasks at once, as the gateway's
messages submit them, on a fresh database.

Two ways of running a batch of plain inserts are measured in the same run, interleaved round
after round so both see the same share of the machine:

- `one statement`: what the writer does (store/pg_bulk.py): the batch's inserts as one
  statement, one round trip;
- `transaction`: the same batch as `BEGIN`, one statement per table, `COMMIT` (the writer's
  path for every other batch, and for these before issue 20's step 26), by switching the bulk
  form off in this process.

Run on demand (the PostgreSQL of `--admin-url` must let that user create databases):

    .venv/bin/python -m bench.group_commit [--messages 3000] [--rounds 3] [--concurrency 1,12,25]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # `python bench/group_commit.py`

import uvloop
from bench.scaleout import fresh_postgres
from rich.console import Console
from rich.table import Table

from aibot.core.messages import TurnRecord
from aibot.store.engine import create_engine, migrate
from aibot.store.pg_write import PgWrites
from aibot.store.repository import Repository
from aibot.store.writer import GroupCommitWriter

WAYS = ("one statement", "transaction")


@contextmanager
def way(name: str) -> Iterator[None]:
    """`transaction`: the bulk form switched off, so every batch runs as a transaction."""
    real = PgWrites._bulk
    if name == "transaction":
        PgWrites._bulk = lambda *_: None  # type: ignore[method-assign]
    try:
        yield
    finally:
        PgWrites._bulk = real  # type: ignore[method-assign]


async def load(
    writer: GroupCommitWriter, repo: Repository, concurrency: int, messages: int
) -> float:
    """CPU µs per message for `messages` messages from `concurrency` tasks."""
    left = [messages]

    async def submitter(worker: int) -> None:
        sent = 0
        while left[0] > 0:
            left[0] -= 1
            sent += 1
            key, now = f"bench-{worker}-{sent % 10}", time.time()
            said = [TurnRecord("user", "你好", now), TurnRecord("assistant", "echo: 你好", now)]
            await writer.submit(
                repo.save_conversation(key, "api", "u", now), *repo.add_turns(key, said)
            )

    started = time.process_time()
    await asyncio.gather(*(submitter(worker) for worker in range(concurrency)))
    return (time.process_time() - started) / messages * 1e6


async def measure(args: argparse.Namespace) -> dict[tuple[int, str], list[float]]:
    figures: dict[tuple[int, str], list[float]] = {}
    async with fresh_postgres(args.admin_url) as url:
        engine = create_engine(url)
        await migrate(engine)
        writer = GroupCommitWriter(engine)
        writer.start()
        repo = Repository(engine)
        try:
            await load(writer, repo, 4, 200)  # connection, statements and caches made
            for _ in range(args.rounds):
                for concurrency in args.concurrency:
                    for name in WAYS:
                        with way(name):
                            cpu = await load(writer, repo, concurrency, args.messages)
                        figures.setdefault((concurrency, name), []).append(cpu)
        finally:
            await writer.stop()
            await engine.dispose()
    return figures


def report(figures: dict[tuple[int, str], list[float]]) -> None:
    table = Table(title="group commit alone on PostgreSQL: CPU µs per message (median, range)")
    for column in ("submitters at once", *WAYS, "one statement ÷ transaction"):
        table.add_column(column, justify="right")
    for concurrency in sorted({c for c, _ in figures}):
        medians = [statistics.median(figures[concurrency, name]) for name in WAYS]
        cells = [
            f"{median:.0f} ({min(figures[concurrency, name]):.0f}–"
            f"{max(figures[concurrency, name]):.0f})"
            for median, name in zip(medians, WAYS, strict=True)
        ]
        table.add_row(str(concurrency), *cells, f"{medians[0] / medians[1]:.2f}")
    Console().print(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=3000, help="messages per measurement")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of every measurement")
    parser.add_argument(
        "--concurrency",
        type=lambda text: [int(part) for part in text.split(",")],
        default=[1, 12, 25],
        help="comma-separated numbers of submitters at once",
    )
    parser.add_argument(
        "--admin-url",
        default="postgresql://postgres@127.0.0.1:5432/postgres",
        help="a PostgreSQL superuser's URL; a fresh database is made there and dropped",
    )
    report(uvloop.run(measure(parser.parse_args())))


if __name__ == "__main__":
    main()
