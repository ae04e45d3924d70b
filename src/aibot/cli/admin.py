"""`ai-bot admin`: console accounts. The only way to make the first one: there is no default.

It writes to the same store the gateway reads, so an account works at once on a running
gateway and on every replica sharing the store. Each change is written to the audit log as
done by "cli" from "local".
"""

from __future__ import annotations

import os
import secrets
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer
from rich.table import Table

from aibot.cli.common import (
    cipher_or_exit,
    console,
    fail,
    load_or_exit,
    on_store,
    said,
    tr,
)
from aibot.cli.options import ConfigOption
from aibot.i18n import N_

if TYPE_CHECKING:
    from aibot.admin.sessions import Sessions
    from aibot.admin.users import AdminUsers
    from aibot.store.audit import AuditLog

T = TypeVar("T")

admin_app = typer.Typer(
    name="admin",
    no_args_is_help=True,
    help=N_("Admin console accounts: create users, set passwords, authenticator codes."),
)

PasswordStdin = Annotated[
    bool,
    typer.Option(
        "--password-stdin",
        help=N_("Read the password from the first line of stdin (for scripts)."),
    ),
]


class Store:
    """What the commands need, on one engine."""

    def __init__(self, users: AdminUsers, sessions: Sessions, audit: AuditLog) -> None:
        self.users = users
        self.sessions = sessions
        self.audit = audit

    async def record(self, action: str, target: str) -> None:
        from aibot.store.audit import AuditEntry

        await self.audit.record(AuditEntry(time.time(), "cli", action, target, "local"))


def _run(config: str | None, action: Callable[[Store], Awaitable[T]]) -> T:
    from aibot.admin.sessions import Sessions
    from aibot.admin.users import AdminUsers
    from aibot.store.audit import AuditLog

    loaded = load_or_exit(config)
    cipher = cipher_or_exit(loaded.config)
    return on_store(
        loaded.config.storage.url,
        lambda engine: action(
            Store(
                AdminUsers(engine, cipher),
                Sessions(engine, loaded.config.admin.session_ttl),
                AuditLog(engine),
            )
        ),
    )


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    from aibot.admin.passwords import MIN_LENGTH

    # The rule is said before the first entry, not after two refused ones.
    label = tr("Password (at least {n} characters)", n=MIN_LENGTH)
    password: str = typer.prompt(
        label, hide_input=True, confirmation_prompt=tr("Repeat the password")
    )
    return password


@admin_app.command(
    "create-user", help=N_("Create a console account (asks for the password twice).")
)
def create_user(
    name: Annotated[str, typer.Argument(help=N_("The login name."))],
    role: Annotated[str, typer.Option(help=N_("admin, operator or viewer."))] = "viewer",
    password_stdin: PasswordStdin = False,
    totp: Annotated[
        bool,
        typer.Option(
            "--totp", help=N_("Also require a code from an authenticator app (prints its key).")
        ),
    ] = False,
    config: ConfigOption = None,
) -> None:
    from aibot.admin.passwords import WeakPassword
    from aibot.admin.roles import Role
    from aibot.admin.totp import new_secret
    from aibot.admin.users import UserExists

    try:
        parsed_role = Role.parse(role)
    except ValueError as exc:
        fail(said(exc))
    password = _password(password_stdin)
    secret = new_secret() if totp else None

    async def create(store: Store) -> None:
        user = await store.users.create(name, parsed_role, password, secret)
        await store.record("user.create", f"{user.name} role={user.role.label}")

    try:
        _run(config, create)
    except (WeakPassword, UserExists, ValueError) as exc:
        fail(said(exc))
    created = tr("created {role} '{name}'", role=parsed_role.label, name=name.strip())
    console.print(created, highlight=False, markup=False)
    if secret:
        _print_totp(name.strip(), secret)


@admin_app.command(
    "set-password", help=N_("Replace a user's password; their open console sessions end.")
)
def set_password(
    name: Annotated[str, typer.Argument(help=N_("The login name."))],
    password_stdin: PasswordStdin = False,
    config: ConfigOption = None,
) -> None:
    from aibot.admin.passwords import WeakPassword

    password = _password(password_stdin)

    async def change(store: Store) -> bool:
        user = await store.users.by_name(name)
        if user is None or not await store.users.set_password(name, password):
            return False
        await store.sessions.end_all(user.id)
        await store.record("user.password", name)
        return True

    try:
        changed = _run(config, change)
    except WeakPassword as exc:
        fail(said(exc))
    if not changed:
        fail(tr("no user named {name} (`ai-bot admin list-users`)", name=repr(name)), code=1)
    console.print(tr("password changed for '{name}'", name=name), highlight=False, markup=False)


@admin_app.command(
    "totp", help=N_("Require (or with --off, stop requiring) an authenticator code for a user.")
)
def totp_command(
    name: Annotated[str, typer.Argument(help=N_("The login name."))],
    off: Annotated[bool, typer.Option("--off", help=N_("Remove the second factor."))] = False,
    config: ConfigOption = None,
) -> None:
    from aibot.admin.totp import new_secret

    secret = None if off else new_secret()

    async def change(store: Store) -> bool:
        if not await store.users.set_totp(name, secret):
            return False
        await store.record("user.totp", f"{name} {'off' if off else 'on'}")
        return True

    if not _run(config, change):
        fail(tr("no user named {name} (`ai-bot admin list-users`)", name=repr(name)), code=1)
    if secret:
        _print_totp(name, secret)
    else:
        only = tr("'{name}' signs in with the password only", name=name)
        console.print(only, highlight=False, markup=False)


@admin_app.command("list-users", help=N_("Console accounts and their roles."))
def list_users(config: ConfigOption = None) -> None:
    async def listing(store: Store) -> list[tuple[str, str, str]]:
        return [
            (u.name, u.role.label, tr("yes") if u.totp_secret else tr("no"))
            for u in await store.users.all()
        ]

    table = Table(tr("name"), tr("role"), tr("authenticator"), box=None)
    for row in _run(config, listing):
        table.add_row(*row)
    console.print(table)


def _print_totp(name: str, secret: str) -> None:
    from aibot.admin.totp import provisioning_uri

    console.print(
        tr("Add this key to an authenticator app (it is shown only now):"), highlight=False
    )
    console.print("  " + tr("key: {key}", key=secret), highlight=False, markup=False)
    uri = provisioning_uri(secret, name)
    console.print(f"  uri: {uri}", highlight=False, markup=False, soft_wrap=True)


_ALREADY = N_("console accounts already exist: none was created or changed")
_CREATED = N_("created the console admin '{name}'; its one-time password is in {file}")


@admin_app.command(
    "create-initial",
    help=N_(
        "Create the first console admin with a random one-time password, unless any account "
        "exists (then nothing is created or changed). The console asks for a new password at "
        "the first sign-in. install.sh runs this."
    ),
)
def create_initial(
    file: Annotated[
        str,
        typer.Option(help=N_("Where to write the name and one-time password (mode 0600).")),
    ] = "initial-admin.txt",
    name: Annotated[str, typer.Option(help=N_("The admin's login name."))] = "admin",
    config: ConfigOption = None,
) -> None:
    from aibot.admin.roles import Role

    password = secrets.token_urlsafe(18)
    loaded = load_or_exit(config)
    text = (
        "# ai-bot: the first admin of the console, made by the installer.\n"
        f"# Sign in at {loaded.config.server.local_url}/admin/login (or your public address);\n"
        "# the console asks for a new password at once. Delete this file afterwards.\n"
        f"user: {name}\npassword: {password}\n"
    )

    async def create(store: Store) -> bool:
        if await store.users.count():
            return False
        write_private(Path(file), text)  # first: an account whose password is lost helps nobody
        await store.users.create(name, Role.ADMIN, password, must_change=True)
        await store.record("user.create", f"{name} role=admin (initial, must change password)")
        return True

    try:
        created = _run(config, create)
    except OSError as exc:
        fail(tr("cannot write {path}: {reason}", path=file, reason=exc.strerror))
    if not created:
        typer.echo(tr(_ALREADY), err=True)
        return
    typer.echo(tr(_CREATED, name=name, file=file), err=True)


def write_private(path: Path, text: str) -> None:
    """Replaces `path` with `text`, readable by its owner only from the first byte."""
    temporary = path.with_name(path.name + ".tmp")
    temporary.unlink(missing_ok=True)
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as out:
        out.write(text)
    os.replace(temporary, path)
