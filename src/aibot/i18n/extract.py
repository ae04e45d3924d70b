"""Keeps the catalogs in step with the code: `python -m aibot.i18n.extract`.

It finds every marked string under `src/aibot` (`translate`, `translate_plural`, `N_`, `tr`, `_`
in Python; `_` in the Jinja templates; `t` in the chat page's own scripts only), adds the new ones
to each `.po` file with an empty translation for a person to write, and drops the ones no longer
used. The catalog test runs the same extraction, so what it reports is exactly what this command
fixes.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path

from babel.messages.catalog import Catalog, Message
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

from aibot.i18n.catalog import CATALOG_LOCALES, DOMAIN

PACKAGE_DIR = Path(__file__).resolve().parents[1]
LOCALES_DIR = Path(__file__).resolve().parent / "locales"
# Babel's keyword specs: which argument of each call is the msgid (and the plural).
KEYWORDS: dict[str, tuple[int, ...] | None] = {
    "translate": (2,),
    "translate_plural": (2, 3),
    "N_": None,
    "tr": None,  # the CLI's words (aibot.cli.common.tr)
    "_": None,  # templates
}
METHODS = [
    ("i18n/**", "ignore"),
    ("**.py", "python"),
    ("admin/templates/**.html", "jinja2.ext:babel_extract"),
    ("channels/webchat/templates/**.html", "jinja2.ext:babel_extract"),
]
# The chat page's scripts mark their words with the page's own `t(…)`, read in those files alone:
# babel takes a keyword followed by `(` or `[`, so anywhere else a Python name `t` indexed with a
# string (`t["…"]`) would become a catalog entry. The vendored, minified markdown-it is not ours
# (its one-letter names would read as words). The page reads the same set (webchat/page.py).
SCRIPT_METHODS = [
    ("channels/webchat/static/*.min.js", "ignore"),
    ("channels/webchat/static/*.js", "javascript"),
]
SCRIPT_KEYWORDS: dict[str, tuple[int, ...] | None] = {"t": None}
MessageId = str | tuple[str, ...]


def extract() -> Catalog:
    """Every marked string of the package, with the files it is used in."""
    catalog = Catalog(domain=DOMAIN, project="ai-bot", fuzzy=False)
    for methods, keywords in ((METHODS, KEYWORDS), (SCRIPT_METHODS, SCRIPT_KEYWORDS)):
        found = extract_from_dir(
            str(PACKAGE_DIR),
            methods,
            {"**.html": {"silent": "false"}},
            keywords,
            comment_tags=("i18n:",),
            strip_comment_tags=True,
        )
        for filename, lineno, message, comments, context in found:
            catalog.add(
                message,
                None,
                [(f"aibot/{filename}", lineno)],
                auto_comments=comments,
                context=context,
            )
    return catalog


def po_file(language: str) -> Path:
    return LOCALES_DIR / CATALOG_LOCALES[language] / "LC_MESSAGES" / f"{DOMAIN}.po"


def read_catalog(language: str) -> Catalog:
    path = po_file(language)
    if not path.exists():
        return Catalog(locale=CATALOG_LOCALES[language], domain=DOMAIN, project="ai-bot")
    with path.open("rb") as source:
        return read_po(source, locale=CATALOG_LOCALES[language], domain=DOMAIN)


def ids(catalog: Iterable[Message]) -> set[MessageId]:
    """The msgids of a catalog (a plural entry by its forms), without the header entry."""
    found: set[MessageId] = set()
    for message in catalog:
        if message.id:
            found.add(message.id if isinstance(message.id, str) else forms(message.id))
    return found


def forms(value: object) -> tuple[str, ...]:
    """A msgid or msgstr as its tuple of forms (one for most, one per plural form)."""
    if isinstance(value, str):
        return (value,)
    if isinstance(value, tuple | list):
        return tuple(str(item or "") for item in value)
    return ("",)


def update(language: str, template: Catalog) -> tuple[int, int]:
    """Brings one `.po` file in step with `template`; returns (added, removed)."""
    catalog = read_catalog(language)
    before = ids(catalog)
    catalog.update(template, no_fuzzy_matching=True, update_creation_date=False)
    after = ids(catalog)
    path = po_file(language)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as out:
        write_po(
            out, catalog, width=100, sort_output=True, include_lineno=False, ignore_obsolete=True
        )
    return len(after - before), len(before - after)


def main() -> None:
    if any(arg in ("-h", "--help") for arg in sys.argv[1:]):
        print(__doc__)  # a developer's tool: its help is its docstring, in English
        sys.exit(0)
    template = extract()
    for language in CATALOG_LOCALES:
        added, removed = update(language, template)
        untranslated = sorted(str(m.id) for m in read_catalog(language) if m.id and not m.string)
        print(
            f"{po_file(language)}: {added} new, {removed} removed, {len(untranslated)} to translate"
        )
        for msgid in untranslated:
            print(f"  {msgid}")
    sys.exit(0)


if __name__ == "__main__":
    main()
