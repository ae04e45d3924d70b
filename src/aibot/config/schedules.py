"""The `schedules:` list (jobs an admin runs on a cron) and the `reminders:` section (what users
may schedule with /remind)."""

from __future__ import annotations

import re
from datetime import UTC
from typing import Any, Literal

from cronsim import CronSim, CronSimError
from pydantic import Field, field_validator, model_validator

from aibot.config.base import Section, invalid, parse_duration
from aibot.config.tools import check_zone
from aibot.i18n import N_

_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


class ScheduleTarget(Section):
    channel: str = Field(description=N_("The channel that sends it: feishu, telegram, webhook…"))
    chat_id: str = Field(description=N_("The chat (or user) it goes to, as the platform names it."))
    chat_type: Literal["private", "group"] = Field("group", description=N_("DM or group."))


class ScheduleConfig(Section):
    name: str = Field(description=N_("Shown in the console, logs and audit; letters, digits, -_."))
    cron: str = Field(
        description=N_("When: a cron expression, e.g. `0 9 * * 1-5` (09:00 weekdays).")
    )
    time_zone: str = Field("Asia/Shanghai", description=N_("The cron's time zone (IANA name)."))
    target: ScheduleTarget = Field(description=N_("Where the message goes."))
    message: str | None = Field(None, description=N_("A fixed message to send."))
    prompt: str | None = Field(
        None, description=N_("Or: a prompt the model answers, e.g. 今天的待办总结.")
    )
    provider: str | None = Field(
        None, description=N_("The provider answering a prompt; default: the default.")
    )
    tools: list[str] = Field(
        default=[],
        description=N_("Tools the model may use for the prompt (names or `server__*`)."),
    )
    misfire_grace: float = Field(
        600.0, description=N_("A run missed while the gateway was down still runs if this recent.")
    )
    enabled: bool = Field(True, description=N_("false: never runs (the console can pause too)."))

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _NAME.match(value):
            raise invalid(
                N_("schedule name {value}: 1-64 letters, digits, -, _ or ."), value=repr(value)
            )
        return value

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str) -> str:
        from datetime import datetime

        try:
            CronSim(value, datetime.now(UTC))
        except CronSimError as exc:
            raise invalid(
                N_("invalid cron expression {value}: {reason}"), value=repr(value), reason=str(exc)
            ) from None
        return value

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, value: str) -> str:
        return check_zone(value)

    @field_validator("misfire_grace", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> float:
        return parse_duration(value)

    @model_validator(mode="after")
    def _one_kind(self) -> ScheduleConfig:
        if (self.message is None) == (self.prompt is None):
            raise invalid(
                N_("schedule {name}: give exactly one of `message` or `prompt`"), name=self.name
            )
        return self


class RemindersConfig(Section):
    enabled: bool = Field(True, description=N_("Users may set reminders with /remind."))
    max_per_user: int = Field(20, ge=1, le=1000, description=N_("Pending reminders per user."))
    max_ahead: float = Field(
        366 * 86400.0, description=N_("How far ahead a reminder may be set (e.g. 30d).")
    )
    misfire_grace: float = Field(
        3600.0,
        description=N_(
            "A reminder missed while the gateway was down is still sent if this recent."
        ),
    )

    @field_validator("max_ahead", "misfire_grace", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> float:
        return parse_duration(value)
