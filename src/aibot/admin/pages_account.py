"""The signed-in user's own account: changing the password. An account made by the installer
(or flagged `must_change_password`) is sent here before any other page, and stays here until
the password it was given has been replaced."""

from __future__ import annotations

import asyncio

from fastapi import Response

from aibot.admin.page import Call, ConsoleBase
from aibot.admin.passwords import MIN_LENGTH, WeakPassword, verify_password
from aibot.admin.words import _

ACCOUNT_PAGE = "/admin/account/password"
# What a user who must change the password may still reach.
ALLOWED_BEFORE_CHANGE = frozenset({ACCOUNT_PAGE, "/admin/logout"})
_FIELD_MAX = 1024


class AccountPages(ConsoleBase):
    async def password_page(self, call: Call) -> Response:
        return self._password_form(call, None, 200)

    def _password_form(self, call: Call, error: str | None, status: int) -> Response:
        return self.render(
            "account_password.html",
            call.who,
            status,
            page="account",
            error=error,
            forced=call.who.user.must_change_password,
        )

    async def change_password(self, call: Call) -> Response:
        current = call.form.get("current", "")[:_FIELD_MAX]
        new = call.form.get("new", "")[:_FIELD_MAX]
        user = call.who.user
        # argon2 takes tens of milliseconds: off the event loop.
        if not await asyncio.to_thread(verify_password, user.password_hash, current):
            return self._password_form(call, _("The current password is not right."), 400)
        if new != call.form.get("confirm", "")[:_FIELD_MAX]:
            return self._password_form(call, _("The two new passwords differ."), 400)
        if new == current:
            return self._password_form(call, _("Choose a password you have not used here."), 400)
        try:
            await self.users.set_password(user.name, new)
        except WeakPassword:
            return self._password_form(
                call,
                _("Too weak: the password must have at least {n} characters.", n=MIN_LENGTH),
                400,
            )
        return await self._back(call, "/admin", "user.password", user.name)
