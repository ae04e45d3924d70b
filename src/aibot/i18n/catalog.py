"""The catalogs themselves: `.po` files read with Babel into gettext translations, once each.

Reading the `.po` source at first use (rather than shipping compiled `.mo` files) keeps one
file per language in the repository and in the wheel, with nothing to forget to rebuild. Babel
is imported then too: a gateway or command that only speaks English never loads it (~6 ms and
0.8 MB of every start).
"""

from __future__ import annotations

import functools
import gettext
import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib import resources

import structlog

log = structlog.get_logger("aibot.i18n")

DOMAIN = "messages"
# The gettext locale directory of each language that has a catalog (English is the msgids).
CATALOG_LOCALES = {"zh-CN": "zh_CN"}


def N_(msgid: str) -> str:
    """Marks a string for the catalog where it is defined; `translate` it where it is shown."""
    return msgid


def po_path(language: str) -> resources.abc.Traversable | None:
    """Where the catalog of `language` lives inside the package (None: English, the source)."""
    locale = CATALOG_LOCALES.get(language)
    if locale is None:
        return None
    return resources.files(__package__).joinpath("locales", locale, "LC_MESSAGES", f"{DOMAIN}.po")


@functools.cache
def translations(language: str) -> gettext.NullTranslations:
    """The gettext translations of `language`; untranslated and fuzzy entries fall back to the
    English msgid, so a gap in a catalog shows English rather than nothing."""
    path = po_path(language)
    if path is None:
        return gettext.NullTranslations()
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    with path.open("rb") as source:
        catalog = read_po(source, locale=CATALOG_LOCALES[language], domain=DOMAIN)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)


def translate(language: str, msgid: str, /, **params: object) -> str:
    """`msgid` (English, with `{name}` placeholders) in `language`, with `params` filled in."""
    return _fill(translations(language).gettext(msgid), msgid, params)


@dataclass(frozen=True, slots=True)
class Phrase:
    """A msgid with its values, said later in whichever language its reader has: for what is
    made before the reader is known and read by several (a refused config is built once, then
    printed on a terminal, shown on a console page and logged in English). A value that is a
    Phrase itself is said in the same language."""

    msgid: str
    params: Mapping[str, object] = field(default_factory=dict)

    def say(self, language: str) -> str:
        return translate(
            language,
            self.msgid,
            **{k: v.say(language) if isinstance(v, Phrase) else v for k, v in self.params.items()},
        )

    def __str__(self) -> str:
        """The English (the msgid filled in): what a log line or an exception's text reads."""
        return self.say("en")


def phrase_of(error: BaseException) -> Phrase | None:
    """The Phrase an exception was raised with (`SomeError(Phrase(N_("…"), {…}))`): its
    `str()` stays English for the log while whoever shows it to a person says it in theirs."""
    first = error.args[0] if error.args else None
    return first if isinstance(first, Phrase) else None


def said(error: BaseException, language: str) -> str:
    """An exception's text in `language`; one raised with plain text is said as it is."""
    phrase = phrase_of(error)
    return phrase.say(language) if phrase else str(error)


# How a list is written inside a sentence, per language: (items, clauses). Names and values
# take a comma in English and the enumeration comma 、 in Chinese; clauses (steps, causes,
# each a sentence of its own) take a semicolon, the full-width ； in Chinese. English's are
# the default for a language without its own.
LIST_SEPARATORS = {"zh-CN": ("、", "；")}
ENGLISH_SEPARATORS = (", ", "; ")


def join_list(language: str, items: Iterable[str], /, *, clauses: bool = False) -> str:
    """`items` as one list inside a translated sentence, with `language`'s punctuation (a
    Chinese sentence that lists with ", " or "; " reads as half English). `clauses=True` for
    parts that are sentences of their own."""
    separators = LIST_SEPARATORS.get(language, ENGLISH_SEPARATORS)
    return separators[clauses].join(items)


def template(language: str, msgid: str) -> str:
    """The translation with its `{placeholders}` left in, for a page script that fills them."""
    return translations(language).gettext(msgid)


def translate_plural(language: str, singular: str, plural: str, n: int, /, **params: object) -> str:
    """The form of `singular`/`plural` for the count `n` in `language`; `{n}` is filled in."""
    text = translations(language).ngettext(singular, plural, n)
    return _fill(text, singular if n == 1 else plural, {"n": n, **params})


def _fill(text: str, msgid: str, params: dict[str, object]) -> str:
    """A translation with a broken placeholder falls back to the English, never to an error:
    a person still gets a sentence (the catalog test stops such a translation from landing)."""
    try:
        return text.format_map(params)
    except (KeyError, IndexError, ValueError, AttributeError):
        log.warning("translation_placeholder_mismatch", msgid=msgid)
    try:
        return msgid.format_map(params)
    except (KeyError, IndexError, ValueError, AttributeError):
        return msgid
