"""`ai-bot pairing`: approve the codes unknown users receive under `dm_policy: pairing`.

It writes to the same store the gateway reads, so an approval works on a running gateway (and
on every replica sharing the store) without a restart.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer
from rich.table import Table

from aibot.cli.common import ConfigOption, console, fail, load_or_exit, on_store

if TYPE_CHECKING:
    from aibot.store.pairings import PairingStore

T = TypeVar("T")

pairing_app = typer.Typer(
    name="pairing",
    no_args_is_help=True,
    help="Approve or revoke users under policy.access.dm_policy: pairing.",
)


def _run(config: str | None, action: Callable[[PairingStore], Awaitable[T]]) -> T:
    from aibot.store.pairings import PairingStore

    return on_store(
        load_or_exit(config).config.storage.url, lambda engine: action(PairingStore(engine))
    )


@pairing_app.command("approve")
def approve(
    code: Annotated[str, typer.Argument(help="The code the user received, e.g. ABCD2345.")],
    config: ConfigOption = None,
) -> None:
    """Let the user who received CODE talk to the assistant."""
    pairing = _run(config, lambda store: store.approve(code, time.time()))
    if pairing is None:
        fail(
            f"no pending code {code!r}: it may be mistyped, expired or used "
            "(`ai-bot pairing list` shows the pending ones)",
            code=1,
        )
    console.print(f"approved {pairing.channel} user {pairing.user_id}", highlight=False)


@pairing_app.command("revoke")
def revoke(
    channel: Annotated[str, typer.Argument(help="telegram, feishu, wecom, dingtalk…")],
    user_id: Annotated[str, typer.Argument(help="The platform's user id.")],
    config: ConfigOption = None,
) -> None:
    """Withdraw a user's approval (they get a new code when they write again)."""
    if not _run(config, lambda store: store.revoke(channel, user_id)):
        fail(f"{channel} user {user_id} has no approval or pending code", code=1)
    console.print(f"revoked {channel} user {user_id}", highlight=False)


@pairing_app.command("list")
def listing(config: ConfigOption = None) -> None:
    """Approved users and codes still waiting for approval."""
    rows = _run(config, lambda store: store.listing(time.time()))
    table = Table("channel", "user", "status", "code", box=None)
    for row in rows:
        table.add_row(
            row.channel, row.user_id, row.status, row.code if row.status == "pending" else ""
        )
    console.print(table)
