"""Which language a person gets: the config's choice, or what their side says it reads.

The hints are untrusted header values and platform fields, so reading them is bounded: at most
the first 512 characters and 16 entries of an `Accept-Language` list, no regular expression.
"""

from __future__ import annotations

import os
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Literal, get_args

Language = Literal["zh-CN", "en"]
LANGUAGES: tuple[Language, ...] = get_args(Language)
DEFAULT_LANGUAGE: Language = "zh-CN"

_MAX_HEADER = 512
_MAX_ENTRIES = 16
_MAX_HINT = 128  # what is stored with a message; the first entries are the ones that count
# Primary subtags we serve. Every Chinese variant reads Simplified Chinese better than English.
_PRIMARY: dict[str, Language] = {"zh": "zh-CN", "en": "en"}


@dataclass(frozen=True, slots=True)
class _Settings:
    language: str = "auto"  # auto | zh-CN | en
    default: Language = DEFAULT_LANGUAGE


_settings = _Settings()
# The language of the request being served, for code that renders without the request at hand
# (the console's templates): set once per request by the room that reads its headers.
_request_language: ContextVar[Language | None] = ContextVar("aibot_language", default=None)


def set_request_language(language: Language) -> None:
    """The language of the request this task serves (each request runs in its own context)."""
    _request_language.set(language)


def request_language() -> Language:
    """The language set for this request, else `pick()` with no hint."""
    return _request_language.get() or pick()


def configure(language: str = "auto", default: str = DEFAULT_LANGUAGE) -> None:
    """Applies `ui.language` and `ui.default_language` for the whole process (the gateway at
    start and on reload, the CLI once its config is read)."""
    global _settings
    chosen = match_language(default) or DEFAULT_LANGUAGE
    _settings = _Settings(
        language if language == "auto" else match_language(language) or chosen, chosen
    )


def match_language(tag: str | None) -> Language | None:
    """The language we serve for one tag — `zh-CN`, `zh_TW.UTF-8`, `zh-Hans`, `en-US`, `en` —
    or None when we serve none of it (`fr`, `C`, `*`)."""
    if not tag:
        return None
    primary = tag.strip().lower().replace("_", "-").split("-", 1)[0].split(".", 1)[0]
    return _PRIMARY.get(primary)


def from_accept_language(header: str) -> Language | None:
    """The best language we serve from an `Accept-Language` list (q-values honoured, ties in
    the order given), or None; one bare tag is a list of one."""
    best: tuple[float, int, Language] | None = None
    for index, entry in enumerate(header[:_MAX_HEADER].split(",")[:_MAX_ENTRIES]):
        tag, _, parameters = entry.partition(";")
        language = match_language(tag)
        if language is None:
            continue
        weight = _quality(parameters)
        if weight > 0 and (best is None or (-weight, index) < (-best[0], best[1])):
            best = (weight, index, language)
    return best[2] if best else None


def _quality(parameters: str) -> float:
    name, _, value = parameters.strip().partition("=")
    if name.strip().lower() != "q":
        return 1.0
    try:
        weight = float(value.strip()[:8])
    except ValueError:
        return 0.0
    return weight if 0.0 <= weight <= 1.0 else 0.0


def locale_hint(value: str | None) -> str | None:
    """A header or platform field as kept beside a message (`ReplyTarget.locale`): bounded to
    what language choice reads, None when empty."""
    return value[:_MAX_HINT] if value else None


def pick(*hints: str | None) -> Language:
    """The language for one request or chat turn: `ui.language` when it names one; under
    `auto` the first hint we serve (an `Accept-Language` value, a platform user's locale),
    else `ui.default_language`."""
    settings = _settings
    if settings.language != "auto":
        return match_language(settings.language) or settings.default
    for hint in hints:
        found = from_accept_language(hint) if hint else None
        if found is not None:
            return found
    return settings.default


def terminal_language() -> Language:
    """The CLI's language: under `auto`, the locale of the terminal (the first of `LC_ALL`,
    `LC_MESSAGES`, `LANG` that is set, as POSIX reads them)."""
    locale = next(
        (os.environ[name] for name in ("LC_ALL", "LC_MESSAGES", "LANG") if os.environ.get(name)),
        None,
    )
    return pick(locale)
