"""CPU per message of the group commit alone on PostgreSQL, on a fresh database, submitted by
`--concurrency` tasks at once as the gateway's messages submit them:

- `message`: a message's writes, its conversation's upsert and two turns (REST, `/v1`);
- `inbox`: a platform message's writes as a webhook's message makes them: its inbox row (an
  insert returning its id), then, once answered, the row marked done with its conversation,
  its turns and its reply in the outbox, in one unit.

Two ways of running a batch are measured in the same run, interleaved round after round so
both see the same share of the machine:

- `one statement`: what the writer does (store/pg_bulk.py, store/pg_write.py): a batch of
  plain inserts as one statement, and a batch of one statement alone, one round trip each;
- `transaction`: every batch as `BEGIN`, its statements, `COMMIT` (the writer's path for any
  other batch, and for these before issue 20's step 26), by switching both off in this process.

Run on demand (the PostgreSQL of `--admin-url` must let that user create databases):

    .venv/bin/python -m bench.group_commit [--messages 3000] [--rounds 3] [--concurrency 1,12,25]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import statistics
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # `python bench/group_commit.py`

import uvloop
from bench.scaleout import fresh_postgres
from rich.console import Console
from rich.table import Table

from aibot.core.messages import ReplyTarget, TurnRecord
from aibot.store.engine import create_engine, migrate
from aibot.store.pg_write import PgWrites
from aibot.store.repository import Repository
from aibot.store.writer import GroupCommitWriter

WAYS = ("one statement", "transaction")
WORKLOADS = ("message", "inbox")
Send = Callable[[GroupCommitWriter, int], Awaitable[None]]


@contextmanager
def way(name: str) -> Iterator[None]:
    """`transaction`: the one-statement forms switched off, so every batch is a transaction."""
    saved = {name: vars(PgWrites)[name] for name in ("_bulk", "_alone")}
    if name == "transaction":
        PgWrites._bulk = lambda *_: None  # type: ignore[method-assign]
        PgWrites._alone = staticmethod(lambda _: False)  # type: ignore[method-assign,assignment]
    try:
        yield
    finally:
        for attribute, value in saved.items():
            setattr(PgWrites, attribute, value)


class Workloads:
    """What one submitter sends per message, by workload name."""

    def __init__(self, repo: Repository) -> None:
        self._repo = repo
        self._numbers = itertools.count()
        self._target = ReplyTarget(platform={"chat": 1})

    async def message(self, writer: GroupCommitWriter, worker: int) -> None:
        n, now = next(self._numbers), time.time()
        key = f"bench-{worker}-{n % 10}"
        said = [TurnRecord("user", "你好", now), TurnRecord("assistant", "echo: 你好", now)]
        await writer.submit(
            self._repo.save_conversation(key, "api", "u", now), *self._repo.add_turns(key, said)
        )

    async def inbox(self, writer: GroupCommitWriter, worker: int) -> None:
        n, now = next(self._numbers), time.time()
        key, target, repo = f"s{worker}", self._target, self._repo
        accept = repo.accept_inbox("tg", f"m{n}", key, "u", "你好", target, now)
        [row_id] = await writer.submit(accept)
        said = [TurnRecord("user", "你好", now), TurnRecord("assistant", "echo: 你好", now)]
        await writer.submit(
            repo.finish_inbox(row_id, "done", now),
            repo.save_conversation(key, "telegram", "u", now),
            *repo.add_turns(key, said),
            repo.enqueue_outbox(row_id, "tg", key, target, "echo: 你好", now),
        )


async def load(writer: GroupCommitWriter, send: Send, concurrency: int, messages: int) -> float:
    """CPU µs per message for `messages` messages from `concurrency` tasks."""
    left = [messages]

    async def submitter(worker: int) -> None:
        while left[0] > 0:
            left[0] -= 1
            await send(writer, worker)

    started = time.process_time()
    await asyncio.gather(*(submitter(worker) for worker in range(concurrency)))
    return (time.process_time() - started) / messages * 1e6


Figures = dict[tuple[str, int, str], list[float]]


async def measure(args: argparse.Namespace) -> Figures:
    figures: Figures = {}
    async with fresh_postgres(args.admin_url) as url:
        engine = create_engine(url)
        await migrate(engine)
        writer = GroupCommitWriter(engine)
        writer.start()
        workloads = Workloads(Repository(engine))
        try:
            for workload in WORKLOADS:  # connection, statements and caches made
                await load(writer, getattr(workloads, workload), 4, 200)
            for _ in range(args.rounds):
                for workload, concurrency, name in itertools.product(
                    WORKLOADS, args.concurrency, WAYS
                ):
                    with way(name):
                        cpu = await load(
                            writer, getattr(workloads, workload), concurrency, args.messages
                        )
                    figures.setdefault((workload, concurrency, name), []).append(cpu)
        finally:
            await writer.stop()
            await engine.dispose()
    return figures


def report(figures: Figures) -> None:
    table = Table(title="group commit alone on PostgreSQL: CPU µs per message (median, range)")
    for column in ("writes", "submitters at once", *WAYS, "one statement ÷ transaction"):
        table.add_column(column, justify="right")
    for workload, concurrency in sorted({(w, c) for w, c, _ in figures}):
        runs = [figures[workload, concurrency, name] for name in WAYS]
        medians = [statistics.median(run) for run in runs]
        cells = [
            f"{median:.0f} ({min(run):.0f}–{max(run):.0f})"
            for median, run in zip(medians, runs, strict=True)
        ]
        table.add_row(workload, str(concurrency), *cells, f"{medians[0] / medians[1]:.2f}")
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
