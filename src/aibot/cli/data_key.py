"""`ai-bot data-key new | status | rotate`: the keys that encrypt conversations at rest."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from aibot.cli.common import console, fail, listed, load_or_exit, on_store, tr
from aibot.cli.options import ConfigOption
from aibot.i18n import N_

if TYPE_CHECKING:
    from aibot.store.crypto import Keyring
    from aibot.store.database import Database

# What the commands say, in one place (translated where shown).
NO_ENCRYPTION = N_(
    "storage.encryption is not set: add storage.encryption.key (make one with "
    "`ai-bot data-key new`) and restart the gateway"
)
NOT_CURRENT = N_(
    "the gateway writes with data key {store}, but this config's key is {mine}: restart the "
    "gateway(s) with this config first, then run this again"
)
FOLLOWING = N_("re-encryption is running in {owner}; following it (Ctrl-C leaves it running)")
PROGRESS = N_("{table}: up to row {last}, {count} values re-encrypted")
DONE = N_("done: every value is encrypted with data key {key}")
RETIRED = N_("no value uses {keys} any more: remove it from storage.encryption.old_keys")
ARCHIVED = N_(
    "keep data key {key} in storage.encryption.old_keys: {count} archived objects still use it "
    "(after `ai-bot restore-archive`, run this again)"
)
WROTE = N_("wrote a new data key to {path} (mode 0600); its id is {key}")
STATUS_KEY = N_("data key {key}: {state}")
STATUS_PLAIN = N_("rows from before encryption was turned on: {state}")
KEY_STATES = {
    "current": N_("current (new values are encrypted with it)"),
    "retiring": N_("still used: keep it configured, run `ai-bot data-key rotate`"),
    "retired": N_("no longer used"),
}
PLAIN_STATES = {"retiring": N_("still being encrypted"), "retired": N_("all encrypted")}
STATUS_NONE = N_("encryption at rest is off for this database (no data key has sealed anything)")

data_key_app = typer.Typer(
    name="data-key",
    help=N_("Encryption at rest: make a key, see which keys the data uses, rotate to a new key."),
    no_args_is_help=True,
)


@data_key_app.command(
    "new", help=N_("Print a new random 256-bit data key (base64), or write it to a file.")
)
def new(
    out: Annotated[
        Path | None, typer.Option(help=N_("Write the key to this file (mode 0600) instead."))
    ] = None,
) -> None:
    from aibot.store.crypto import key_id, new_key, parse_key

    key = new_key()
    if out is None:
        console.print(key, highlight=False, markup=False)
        return
    try:
        fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as exc:
        fail(
            tr(
                "cannot create {path}: {reason} (it must not exist yet)",
                path=str(out),
                reason=exc.strerror,
            ),
            code=1,
        )
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(key + "\n")
    console.print(
        tr(WROTE, path=out, key=key_id(parse_key(key, str(out)))), highlight=False, markup=False
    )


@data_key_app.command(
    "status", help=N_("Which data keys the stored values use, and what a rotation still has to do.")
)
def status(config: ConfigOption = None) -> None:
    from aibot.store.data_keys import key_states
    from aibot.store.key_check import PLAIN_ID

    settings = load_or_exit(config).config
    rows = on_store(settings.storage.url, key_states)
    if not rows:
        console.print(tr(STATUS_NONE), highlight=False, markup=False)
    for key, state in rows:
        line = (
            tr(STATUS_PLAIN, state=tr(PLAIN_STATES[state]) if state in PLAIN_STATES else state)
            if key == PLAIN_ID
            else tr(
                STATUS_KEY, key=key, state=tr(KEY_STATES[state]) if state in KEY_STATES else state
            )
        )
        console.print(line, highlight=False, markup=False)


@data_key_app.command(
    "rotate",
    help=N_(
        "Re-encrypt every stored value with the current key, in batches, while the gateway "
        "runs.\n\nFirst set storage.encryption.key to the new key, move the old one to old_keys "
        "and restart the gateway(s). Safe to stop and run again: it resumes where it stopped."
    ),
)
def rotate(
    config: ConfigOption = None,
    batch: Annotated[int, typer.Option(min=1, max=10_000, help=N_("Rows per transaction."))] = 500,
) -> None:
    from aibot.cli.common import cipher_or_exit
    from aibot.store.crypto import Keyring

    settings = load_or_exit(config).config
    keyring = cipher_or_exit(settings)
    if not isinstance(keyring, Keyring):
        fail(tr(NO_ENCRYPTION))
    on_store(
        settings.storage.url,
        lambda engine: _rotate(engine, keyring, batch),
        secure_delete=True,
    )


async def _rotate(engine: Database, keyring: Keyring, batch: int) -> None:
    from aibot.store.data_keys import current_key, register, verify
    from aibot.store.jobs import JobBusy, runner_name
    from aibot.store.rekey import Rekey

    await verify(engine, keyring)
    current = await current_key(engine)
    if current is None:
        await register(engine, keyring, time.time())  # no gateway has encrypted yet: we start
    elif current != keyring.current_id:
        fail(tr(NOT_CURRENT, store=current, mine=keyring.current_id))

    def show(table: str, last: int, count: int) -> None:
        console.print(
            tr(PROGRESS, table=table, last=last, count=count), highlight=False, markup=False
        )

    following = False
    while True:
        try:
            report = await Rekey(engine, keyring, runner_name(), batch=batch).run(show)
            break
        except JobBusy as busy:
            if not following:
                console.print(tr(FOLLOWING, owner=busy.owner), highlight=False, markup=False)
                following = True
            await asyncio.sleep(1.0)
    console.print(tr(DONE, key=keyring.current_id), highlight=False, markup=False)
    retired = [k for k in report.retired if k != "plain"]
    if retired:
        console.print(tr(RETIRED, keys=listed(retired)), highlight=False, markup=False)
    for key, count in report.archived.items():
        console.print(tr(ARCHIVED, key=key, count=count), highlight=False, markup=False)
