"""The words users see from tools, in Chinese and English (moved to aibot.i18n once it lands)."""

from __future__ import annotations

from collections.abc import Callable

_TEXTS: dict[str, dict[str, str]] = {
    "status": {"zh-CN": "🔧 正在调用 {names}…\n", "en": "🔧 calling {names}…\n"},
    "question": {
        "zh-CN": "🔐 助手想调用 {tool}，参数：{arguments}\n回复 /approve 允许，/deny 拒绝"
        "（{minutes} 分钟内不回复视为拒绝）。",
        "en": "🔐 The assistant wants to run {tool} with {arguments}.\nReply /approve to allow "
        "or /deny to refuse (no answer within {minutes} min counts as /deny).",
    },
    "nothing_waiting": {
        "zh-CN": "当前没有等待你确认的操作。",
        "en": "Nothing is waiting for your approval.",
    },
}


def say(key: str, language: str, **values: str) -> str:
    table = _TEXTS[key]
    return table.get(language, table["zh-CN"]).format(**values)


def status_text(language: str, names: str) -> str:
    """The short status a streaming platform shows while tools run."""
    return say("status", language, names=names)


def question_text(minutes: int) -> Callable[[str, str, str], str]:
    """The question asked before a `confirm` tool runs."""

    def question(language: str, tool: str, arguments: str) -> str:
        return say("question", language, tool=tool, arguments=arguments, minutes=str(minutes))

    return question
