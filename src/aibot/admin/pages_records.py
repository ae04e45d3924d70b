"""The console's read-mostly pages: the dashboard, conversations, dead letters, audit, users."""

from __future__ import annotations

from dataclasses import replace
from urllib.parse import quote

import orjson
from fastapi import Response

from aibot import i18n
from aibot.admin.inputs import printable
from aibot.admin.media import attachment_response
from aibot.admin.page import Call, ConsoleBase, path_int, secured
from aibot.admin.records import search_conversations, transcript
from aibot.admin.stats import snapshot
from aibot.admin.users import NAME_MAX
from aibot.admin.words import _
from aibot.store.media_rows import MediaRows
from aibot.store.records import dead_letters, retry_dead_letter
from aibot.store.series import DEFAULT_WINDOW, WINDOWS, Series


class RecordPages(ConsoleBase):
    async def dashboard(self, call: Call) -> Response:
        """The live numbers since start, and the charts' history from the store in the page
        itself, so they are drawn on load; charts.js refreshes them from `series`."""
        return self.render(
            "dashboard.html",
            call.who,
            page="dashboard",
            stats=snapshot(self.gateway.metrics),
            series=await self._series(call),
            locale=i18n.request_language(),
        )

    async def stats(self, _call: Call) -> Response:
        return secured(
            Response(orjson.dumps(snapshot(self.gateway.metrics)), media_type="application/json")
        )

    async def series(self, call: Call) -> Response:
        history = await self._series(call)
        return secured(Response(orjson.dumps(history.as_json()), media_type="application/json"))

    async def _series(self, call: Call) -> Series:
        """`?range=1h|24h|7d`; anything else is the default range."""
        window = WINDOWS.get(call.request.query_params.get("range", ""), WINDOWS[DEFAULT_WINDOW])
        return await self.history.read(window, self.clock())

    async def conversations(self, call: Call) -> Response:
        query = call.request.query_params.get("q", "")
        found = await search_conversations(self.gateway.engine, query, cipher=self.gateway.cipher)
        return self.render(
            "conversations.html",
            call.who,
            page="conversations",
            query=query,
            found=found,
            quote=quote,
        )

    async def conversation(self, call: Call) -> Response:
        key = call.request.query_params.get("key", "")
        turns = await transcript(
            self.gateway.engine, key, cipher=self.gateway.cipher, archive=self.gateway.archive
        )
        if not turns:
            return self.error(call.who, 404, _("No conversation with that key."))
        masked = await self.masked([t.content for t in turns])
        return self.render(
            "conversation.html",
            call.who,
            page="conversations",
            key=key,
            turns=[replace(t, content=text) for t, text in zip(turns, masked, strict=True)],
            media=await MediaRows(self.gateway.engine).for_session(key),
            quote=quote,
        )

    async def media(self, call: Call) -> Response:
        """One attachment, to a signed-in console user only: a proven picture is shown inline
        as itself; anything else (and SVG or HTML whatever it claims) only as a download."""
        row_id = path_int(call.request.path_params.get("media_id"))
        row = await MediaRows(self.gateway.engine).by_id(row_id) if row_id is not None else None
        path = self.gateway.media_path(row.blob) if row is not None else None
        if row is None or path is None:
            return self.error(call.who, 404, _("No such attachment (it may be past retention)."))
        return attachment_response(path, row.name)

    async def export(self, call: Call) -> Response:
        key = call.request.query_params.get("key", "")
        turns = await transcript(
            self.gateway.engine, key, cipher=self.gateway.cipher, archive=self.gateway.archive
        )
        if not turns:
            return self.error(call.who, 404, _("No conversation with that key."))
        await self.audit.record(call.who.audit("conversation.export", key))
        masked = await self.masked([t.content for t in turns])
        body = orjson.dumps(
            {
                "session_key": key,
                "turns": [
                    {
                        "role": t.role,
                        "content": text,
                        "provider": t.provider,
                        "created_at": t.created_at,
                    }
                    for t, text in zip(turns, masked, strict=True)
                ],
            },
            option=orjson.OPT_INDENT_2,
        )
        return secured(
            Response(
                body,
                media_type="application/json",
                headers={"Content-Disposition": 'attachment; filename="conversation.json"'},
            )
        )

    async def dead_letters(self, call: Call) -> Response:
        rows = await dead_letters(self.gateway.engine, cipher=self.gateway.cipher)
        masked = await self.masked([text for r in rows for text in (r.last_error or "", r.text)])
        rows = [
            replace(r, last_error=masked[2 * i], text=masked[2 * i + 1]) for i, r in enumerate(rows)
        ]
        return self.render("dead_letters.html", call.who, page="dead-letters", rows=rows)

    async def retry(self, call: Call) -> Response:
        if not await self._by_id(
            call, "row_id", lambda row_id, now: retry_dead_letter(self.gateway.engine, row_id, now)
        ):
            return self.error(call.who, 404, _("No dead letter with that id."))
        self.gateway.wake_outbox()
        return await self._back(
            call,
            "/admin/dead-letters",
            "deadletter.retry",
            f"outbox #{call.request.path_params['row_id']}",
        )

    async def audit_page(self, call: Call) -> Response:
        actor = printable(call.request.query_params.get("actor", ""), NAME_MAX)
        entries = await self.audit.recent(actor=actor or None)
        return self.render("audit.html", call.who, page="audit", entries=entries)

    async def users_page(self, call: Call) -> Response:
        return self.render("users.html", call.who, page="users", users=await self.users.all())

    async def sign_out_user(self, call: Call) -> Response:
        user_id = path_int(call.request.path_params.get("user_id"))
        user = await self.users.by_id(user_id) if user_id is not None else None
        if user is None:
            return self.error(call.who, 404, _("No user with that id."))
        await self.auth.sessions.end_all(user.id)
        return await self._back(call, "/admin/users", "user.signout", user.name)
