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

from aibot.channels.names import channel_name
from aibot.cli.common import console, fail, load_or_exit, on_store, tr
from aibot.cli.options import ConfigOption
from aibot.i18n import N_, terminal_language

if TYPE_CHECKING:
    from aibot.store.pairings import PairingStore

T = TypeVar("T")

pairing_app = typer.Typer(
    name="pairing",
    no_args_is_help=True,
    help=N_("Approve or revoke users under policy.access.dm_policy: pairing."),
)


def _run(config: str | None, action: Callable[[PairingStore], Awaitable[T]]) -> T:
    from aibot.store.pairings import PairingStore

    return on_store(
        load_or_exit(config).config.storage.url, lambda engine: action(PairingStore(engine))
    )


@pairing_app.command("approve", help=N_("Let the user who received CODE talk to the assistant."))
def approve(
    code: Annotated[str, typer.Argument(help=N_("The code the user received, e.g. ABCD2345."))],
    config: ConfigOption = None,
) -> None:
    pairing = _run(config, lambda store: store.approve(code, time.time()))
    if pairing is None:
        fail(
            tr(
                "no pending code {code}: it may be mistyped, expired or used "
                "(`ai-bot pairing list` shows the pending ones)",
                code=repr(code),
            ),
            code=1,
        )
    approved = tr(
        "approved {channel} user {user}", channel=_named(pairing.channel), user=pairing.user_id
    )
    console.print(approved, highlight=False, markup=False)


@pairing_app.command(
    "revoke", help=N_("Withdraw a user's approval (they get a new code when they write again).")
)
def revoke(
    channel: Annotated[str, typer.Argument(help=N_("telegram, feishu, wecom, dingtalk…"))],
    user_id: Annotated[str, typer.Argument(help=N_("The platform's user id."))],
    config: ConfigOption = None,
) -> None:
    if not _run(config, lambda store: store.revoke(channel, user_id)):
        fail(
            tr(
                "{channel} user {user} has no approval or pending code",
                channel=_named(channel),
                user=user_id,
            ),
            code=1,
        )
    revoked = tr("revoked {channel} user {user}", channel=_named(channel), user=user_id)
    console.print(revoked, highlight=False, markup=False)


@pairing_app.command("list", help=N_("Approved users and codes still waiting for approval."))
def listing(config: ConfigOption = None) -> None:
    rows = _run(config, lambda store: store.listing(time.time()))
    table = Table(tr("channel"), tr("user"), tr("status"), tr("code"), box=None)
    statuses = {"pending": tr("pending"), "approved": tr("approved")}
    for row in rows:
        table.add_row(
            row.channel,
            row.user_id,
            statuses.get(row.status, row.status),
            row.code if row.status == "pending" else "",
        )
    console.print(table)


def _named(channel: str) -> str:
    """The channel as the sentence names it (飞书 for `feishu`); the list keeps the codes,
    which are what `ai-bot pairing revoke` takes."""
    return channel_name(terminal_language(), channel)
