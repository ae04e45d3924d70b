"""The `ui` section: which language people read (chat replies the gateway writes, the page, the
console, the CLI). The strings themselves are in `aibot.i18n`."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from aibot.config.base import Section
from aibot.i18n import N_


class UiConfig(Section):
    language: Literal["auto", "zh-CN", "en"] = Field(
        "auto",
        description=N_(
            "auto: the browser's Accept-Language on pages and HTTP calls, the chat "
            "platform user's locale where the platform sends one, else default_language; zh-CN "
            "or en: always that language."
        ),
    )
    default_language: Literal["zh-CN", "en"] = Field(
        "zh-CN",
        description=N_("The language under auto when the person's side names none we serve."),
    )
