"""The words users see from tools, in Chinese and English (moved to aibot.i18n once it lands)."""

from __future__ import annotations

_TEXTS: dict[str, dict[str, str]] = {
    "status": {"zh-CN": "🔧 正在调用 {names}…\n", "en": "🔧 calling {names}…\n"},
}


def say(key: str, language: str, **values: str) -> str:
    table = _TEXTS[key]
    return table.get(language, table["zh-CN"]).format(**values)


def status_text(language: str, names: str) -> str:
    """The short status a streaming platform shows while tools run."""
    return say("status", language, names=names)
