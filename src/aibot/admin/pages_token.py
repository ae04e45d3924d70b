"""`POST /admin/api/token`: a signed-in console user's session for a short-lived access token.

The exchange sits under /admin because the session cookie is scoped to /admin (a browser never
sends it to /api/v1), and `_guarded` checks the session and the CSRF token (X-CSRF-Token header
or `csrf` form field) before this runs, so a page on another site cannot mint a token. The
token is signed and expires like one exchanged for an API key; its `sub` is `console:<user>`.
A viewer gets scope "read" (GraphQL queries only: no `sendMessage`, no subscription), an
operator or admin scope "all" — never "admin", which would make the caller a chat admin.
"""

from __future__ import annotations

import orjson
from fastapi import Response

from aibot.admin.access_tokens import TOKENS_PER_MINUTE, TooManyTokens
from aibot.admin.page import Call, ConsoleBase, secured
from aibot.admin.roles import Role
from aibot.admin.words import _
from aibot.channels.api_keys import READ_SCOPE

CONSOLE_SUBJECT = "console:"
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def console_scope(role: Role) -> str:
    return "all" if role.allows(Role.OPERATOR) else READ_SCOPE


class TokenPages(ConsoleBase):
    async def access_token(self, call: Call) -> Response:
        subject = CONSOLE_SUBJECT + call.who.user.name
        try:
            issued = await self.gateway.issue_access_token(
                subject, console_scope(call.who.user.role)
            )
        except TooManyTokens:
            return self.error(
                call.who,
                429,
                _("More than {n} tokens a minute for this account.", n=TOKENS_PER_MINUTE),
            )
        if issued is None:
            return self.error(call.who, 404, _("Access tokens are off (auth.jwt.enabled)."))
        await self.audit.record(call.who.audit("token.issue", issued.scope))
        body = {
            "access_token": issued.token,
            "token_type": "Bearer",
            "expires_in": issued.expires_in,
            "scope": issued.scope,
        }
        return secured(
            Response(orjson.dumps(body), media_type="application/json", headers=NO_STORE)
        )
