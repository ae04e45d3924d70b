"""The console's API keys page: create, revoke and rotate keys for /v1 and /api/v1."""

from __future__ import annotations

from fastapi import Response

from aibot.admin.keys import SCOPES
from aibot.admin.page import Call, ConsoleBase, path_int
from aibot.admin.words import _

MAX_KEY_DAYS = 3650


class KeyPages(ConsoleBase):
    async def keys(self, call: Call, new_key: str | None = None) -> Response:
        rows = await self.api_keys.all()
        return self.render(
            "keys.html",
            call.who,
            page="keys",
            rows=rows,
            now=self.clock(),
            scopes=SCOPES,
            new_key=new_key,
        )

    async def create_key(self, call: Call) -> Response:
        days_text = call.form.get("expires_days", "").strip()
        try:
            days = float(days_text) if days_text else None
        except ValueError:
            days = -1.0
        if days is not None and not 0 < days <= MAX_KEY_DAYS:
            return self.error(
                call.who,
                400,
                _("Expiry must be between 0 and {days} days, or empty.", days=MAX_KEY_DAYS),
            )
        now = self.clock()
        try:
            key, row = await self.api_keys.create(
                call.form.get("name", ""),
                call.form.get("scope", ""),
                call.who.user.name,
                now,
                now + days * 86400 if days else None,
            )
        except ValueError as exc:
            return self.error(call.who, 400, str(exc))
        await self.gateway.refresh_api_keys()
        await self.audit.record(
            call.who.audit(
                "apikey.create", f"#{row.id} {row.prefix}… '{row.name}' scope={row.scope}"
            )
        )
        return await self.keys(call, new_key=key)

    async def revoke_key(self, call: Call) -> Response:
        row = await self._by_id(call, "key_id", self.api_keys.revoke)
        if row is None:
            return self.error(call.who, 404, _("No active key with that id."))
        await self.gateway.refresh_api_keys()
        return await self._back(
            call, "/admin/keys", "apikey.revoke", f"#{row.id} {row.prefix}… '{row.name}'"
        )

    async def rotate_key(self, call: Call) -> Response:
        key_id = path_int(call.request.path_params.get("key_id"))
        rotated = (
            None
            if key_id is None
            else await self.api_keys.rotate(key_id, call.who.user.name, self.clock())
        )
        if rotated is None:
            return self.error(call.who, 404, _("No active key with that id."))
        key, new, old = rotated
        await self.gateway.refresh_api_keys()
        await self.audit.record(
            call.who.audit(
                "apikey.rotate", f"#{old.id} {old.prefix}… -> #{new.id} {new.prefix}… '{new.name}'"
            )
        )
        return await self.keys(call, new_key=key)
