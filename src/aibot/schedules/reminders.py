"""`/remind`: reminders a user sets in their own chat, in its time zone, in a strict format.

    /remind 10m 喝水                   in 10 minutes (s, m, h, d; e.g. 90s, 2h, 1d)
    /remind 09:00 站会                 the next 09:00
    /remind 2026-12-24 09:00 会议      that day and time
    /remind list                      this chat's pending reminders, with their numbers
    /remind cancel N                  cancels reminder N

The reminder goes to the chat it was set in, through the outbox, so only chats the gateway
sends to on its own (platform chats, not the web page or REST) can set one.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from aibot.config import RemindersConfig
from aibot.core.commands import Command
from aibot.core.pipeline import TurnContext
from aibot.i18n import N_, translate
from aibot.store.schedules import ScheduleRows

MAX_TEXT = 500
_AFTER = re.compile(r"^(\d{1,6})([smhd])\s+(\S.*)$", re.DOTALL)
_AT = re.compile(r"^(?:(\d{4}-\d{2}-\d{2})\s+)?(\d{1,2}):(\d{2})\s+(\S.*)$", re.DOTALL)
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400}

USAGE = N_(
    "Usage: /remind 10m 喝水 · /remind 09:00 站会 · /remind 2026-12-24 09:00 会议 · "
    "/remind list · /remind cancel N"
)


def parse_when(arg: str, now: float, zone: str) -> tuple[float, str] | None:
    """(due time, text) from `10m text`, `HH:MM text` or `YYYY-MM-DD HH:MM text`; None if the
    argument is in none of these forms or names no real time."""
    text = arg.strip()
    after = _AFTER.match(text)
    if after:
        return now + int(after.group(1)) * _UNIT[after.group(2)], after.group(3).strip()
    at = _AT.match(text)
    if not at:
        return None
    day, hour, minute, what = at.groups()
    tz = ZoneInfo(zone)
    local_now = datetime.fromtimestamp(now, tz)
    try:
        date = datetime.strptime(day, "%Y-%m-%d").date() if day else local_now.date()
        when = datetime(date.year, date.month, date.day, int(hour), int(minute), tzinfo=tz)
    except ValueError:
        return None
    if day is None and when.timestamp() <= now:
        when += timedelta(days=1)  # a time of day already past today: tomorrow
    return when.timestamp(), what.strip()


class Reminders:
    def __init__(
        self,
        rows: ScheduleRows,
        config: RemindersConfig,
        default_zone: str,
        clock: Callable[[], float],
    ) -> None:
        self._rows = rows
        self._config = config
        self._zone = default_zone
        self._clock = clock

    def command(self) -> Command:
        return Command(
            ("remind",), "/remind", N_("set, list or cancel a reminder (/remind 10m 喝水)"),
            self.handle,
        )  # fmt: skip

    async def handle(self, ctx: TurnContext, arg: str) -> str:
        lang, inbound = ctx.language, ctx.inbound
        if not self._config.enabled:
            return translate(lang, "Reminders are switched off here.")
        if inbound.inbox_id is None:
            return translate(
                lang, "Reminders work in chat apps; this channel cannot send one later."
            )
        zone = ctx.time_zone or self._zone
        words = arg.split()
        if words[:1] == ["list"]:
            return await self._list(ctx, zone)
        if words[:1] == ["cancel"]:
            return await self._cancel(ctx, words[1] if len(words) == 2 else "")
        return await self._add(ctx, arg, zone)

    async def _add(self, ctx: TurnContext, arg: str, zone: str) -> str:
        lang, inbound, now = ctx.language, ctx.inbound, self._clock()
        parsed = parse_when(arg, now, zone)
        if parsed is None or not parsed[1]:
            return translate(lang, USAGE)
        due, text = parsed
        if due <= now or due - now > self._config.max_ahead:
            return translate(lang, "Pick a time in the future, at most {days} days ahead.",
                             days=int(self._config.max_ahead // 86400))  # fmt: skip
        if len(text) > MAX_TEXT:
            return translate(lang, "A reminder can be at most {n} characters.", n=MAX_TEXT)
        pending = await self._rows.pending_of(inbound.session_key, inbound.user_id)
        if len(pending) >= self._config.max_per_user:
            return translate(lang, "You already have {n} reminders pending; cancel one first.",
                             n=len(pending))  # fmt: skip
        ctx.writes.append(
            self._rows.add(
                kind="reminder", channel=inbound.channel, session_key=inbound.session_key,
                user_id=inbound.user_id, target=inbound.target, text=text, due_at=due, now=now,
            )
        )  # fmt: skip
        return translate(lang, "OK, I'll remind you at {when}: {text}", when=_local(due, zone),
                         text=text)  # fmt: skip

    async def _list(self, ctx: TurnContext, zone: str) -> str:
        inbound = ctx.inbound
        pending = await self._rows.pending_of(inbound.session_key, inbound.user_id)
        if not pending:
            return translate(ctx.language, "You have no pending reminders.")
        lines = [f"#{t.id}  {_local(t.due_at, zone)}  {t.text[:80]}" for t in pending]
        return "\n".join(lines)

    async def _cancel(self, ctx: TurnContext, number: str) -> str:
        inbound, lang = ctx.inbound, ctx.language
        pending = await self._rows.pending_of(inbound.session_key, inbound.user_id)
        mine = {str(t.id): t for t in pending}
        if number.lstrip("#") not in mine:
            return translate(lang, "No pending reminder #{n} of yours here (see /remind list).",
                             n=number.lstrip("#")[:12])  # fmt: skip
        task = mine[number.lstrip("#")]
        ctx.writes.append(self._rows.settle(task.id, "pending", "cancelled", self._clock()))
        return translate(lang, "Cancelled reminder #{n}.", n=task.id)


def _local(at: float, zone: str) -> str:
    return datetime.fromtimestamp(at, ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M")
