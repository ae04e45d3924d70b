"""The words users see from tools, through the translation catalog (`aibot.i18n`). What tools
tell the model (their results and errors) stays in English: the model reads it, not a person."""

from __future__ import annotations

from collections.abc import Callable

from aibot.i18n import translate


def status_text(language: str, names: str) -> str:
    """The short status a streaming platform shows while tools run."""
    return translate(language, "🔧 calling {names}…", names=names) + "\n"


def question_text(minutes: int) -> Callable[[str, str, str], str]:
    """The question asked before a `confirm` tool runs."""

    def question(language: str, tool: str, arguments: str) -> str:
        return translate(
            language,
            "🔐 The assistant wants to run {tool} with {arguments}.\nReply /approve to allow it "
            "or /deny to refuse (no answer within {minutes} min counts as /deny).",
            tool=tool,
            arguments=arguments,
            minutes=minutes,
        )

    return question


def nothing_waiting(language: str) -> str:
    """The answer to `/approve` or `/deny` when no question of this user waits here: it may
    have timed out, or been asked before a restart or by another replica (questions live in
    the process that asked), so the user is told to ask again rather than left guessing."""
    return translate(
        language,
        "Nothing is waiting for your approval: the question may have timed out, or been asked "
        "before a restart or by another instance of the assistant. Ask again if you still "
        "want it.",
    )
