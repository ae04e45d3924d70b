"""The policies page's edits: the inline word list and the rate limits, written into
config.yaml in place (comments and spelling of everything else kept).

The console never applies a policy itself: it writes the file and asks the gateway's own
reloader, so an edit here is validated exactly like a hand edit or a SIGHUP, and when the
reloader refuses it the previous bytes go back. Only the settings that actually changed are
written, so untouched ones keep their wording (`5/minute` is not rewritten as `5/60s`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aibot.admin.inputs import printable
from aibot.admin.words import _
from aibot.config import PolicyConfig, parse_rate
from aibot.config.edit import edit_config
from aibot.config.edit import section as yaml_section
from aibot.policy.words import read_word_files

MAX_WORDS = 10_000
WORD_MAX = 200
RATE_MAX = 40
RATES = ("per_user", "per_chat")


@dataclass(frozen=True)
class PolicyForm:
    words: list[str]
    per_user: str | None
    per_chat: str | None
    daily_tokens_per_user: int | None


@dataclass(frozen=True)
class WordSource:
    name: str
    words: list[str]
    error: str | None = None


def parse_form(form: dict[str, str]) -> PolicyForm:
    """The page's fields; a ValueError's message is shown to the operator as a 400."""
    words = list(
        dict.fromkeys(
            word
            for line in form.get("words", "").splitlines()
            if (word := printable(line, WORD_MAX))
        )
    )
    if len(words) > MAX_WORDS:
        raise ValueError(
            _("At most {n} words here; put longer lists in a words file.", n=MAX_WORDS)
        )
    tokens = printable(form.get("daily_tokens_per_user", ""), 20)
    if tokens and not (tokens.isascii() and tokens.isdigit()):
        raise ValueError(_("Daily tokens per user must be a whole number, or empty for unlimited."))
    return PolicyForm(
        words,
        printable(form.get("per_user", ""), RATE_MAX) or None,
        printable(form.get("per_chat", ""), RATE_MAX) or None,
        int(tokens) if tokens else None,
    )


def changes(current: PolicyConfig, wanted: PolicyForm) -> dict[tuple[str, str], Any]:
    """(section, key) → new value, for what differs from the running policy. A rate that does
    not parse counts as changed: the reloader then refuses it with its own message."""
    edits: dict[tuple[str, str], Any] = {}
    if wanted.words != current.sensitive_words.words:
        edits["sensitive_words", "words"] = wanted.words
    for name in RATES:
        text = getattr(wanted, name)
        try:
            same = parse_rate(text) == getattr(current.rate_limit, name)
        except ValueError:
            same = False
        if not same:
            edits["rate_limit", name] = text
    if wanted.daily_tokens_per_user != current.rate_limit.daily_tokens_per_user:
        edits["rate_limit", "daily_tokens_per_user"] = wanted.daily_tokens_per_user
    return edits


def describe(current: PolicyConfig, edits: dict[tuple[str, str], Any]) -> str:
    """One audit-log line: what each setting was and became."""
    parts = []
    for (section, key), value in edits.items():
        if key == "words":
            before = set(current.sensitive_words.words)
            added, removed = [w for w in value if w not in before], before - set(value)
            parts.append(f"words +{added} -{sorted(removed)}")
        else:
            old = getattr(current.rate_limit, key)
            shown = rate_text(old) if key in RATES else old
            parts.append(f"{section}.{key}: {shown or 'off'} -> {value or 'off'}")
    return "; ".join(parts)


def write_policy(path: Path, edits: dict[tuple[str, str], Any]) -> bytes:
    """Sets each `policy.<section>.<key>`; returns the previous bytes for `restore`."""

    def change(document: dict[str, Any]) -> None:
        policy = yaml_section(document, "policy")
        for (name, key), value in edits.items():
            yaml_section(policy, name)[key] = value

    return edit_config(path, change)


def rate_text(rate: tuple[int, float] | None) -> str:
    """A rate as the form shows it, in a spelling `parse_rate` reads back."""
    if rate is None:
        return ""
    count, seconds = rate
    whole = seconds == int(seconds)
    return f"{count}/{int(seconds)}s" if whole else f"{count}/{round(seconds * 1000)}ms"


def word_sources(policy: PolicyConfig) -> list[WordSource]:
    """The inline list, then each words file as read now (a file may fail to read)."""
    sources = [WordSource(_("config.yaml (inline)"), policy.sensitive_words.words)]
    for path in policy.sensitive_words.files:
        try:
            sources.append(WordSource(str(path), read_word_files([path])))
        except (OSError, UnicodeDecodeError) as exc:
            sources.append(
                WordSource(str(path), [], _("Cannot read it: {reason}", reason=str(exc)))
            )
    return sources
