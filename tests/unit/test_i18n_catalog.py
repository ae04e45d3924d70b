"""The catalogs are complete and in step with the code.

Every string the code marks for translation has a Chinese translation, the catalog holds nothing
the code no longer uses, and every translation keeps the placeholders of its English. A failure
names the strings and the command that fixes the catalog (`python -m aibot.i18n.extract`).
"""

from __future__ import annotations

import fnmatch
import string
import tomllib
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog

from aibot.i18n import extract as extraction
from aibot.i18n.catalog import CATALOG_LOCALES
from aibot.i18n.extract import MessageId, extract, forms, ids, po_file, read_catalog

ROOT = Path(__file__).resolve().parents[2]
FIX = "run `.venv/bin/python -m aibot.i18n.extract`, then write the Chinese in messages.po"


@pytest.fixture(scope="module")
def template() -> Catalog:
    return extract()


def _show(found: set[MessageId]) -> str:
    return "\n".join(f"  {m!r}" for m in sorted(found, key=str))


@pytest.mark.parametrize("language", sorted(CATALOG_LOCALES))
def test_every_marked_string_is_in_the_catalog_and_nothing_else(
    template: Catalog, language: str
) -> None:
    marked, catalog = ids(template), ids(read_catalog(language))
    assert marked, "the extraction found no marked string: the keywords or paths are wrong"
    missing, unused = marked - catalog, catalog - marked
    assert not missing, f"{language}: strings not in the catalog ({FIX}):\n{_show(missing)}"
    assert not unused, f"{language}: catalog entries no longer used ({FIX}):\n{_show(unused)}"


@pytest.mark.parametrize("language", sorted(CATALOG_LOCALES))
def test_every_entry_is_translated_and_not_fuzzy(language: str) -> None:
    untranslated: set[MessageId] = {
        forms(m.id)
        for m in read_catalog(language)
        if m.id and (m.fuzzy or not all(forms(m.string)))
    }
    assert not untranslated, f"{language}: write these in messages.po:\n{_show(untranslated)}"


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


@pytest.mark.parametrize("language", sorted(CATALOG_LOCALES))
def test_translations_keep_the_placeholders(language: str) -> None:
    broken = []
    for message in read_catalog(language):
        if not message.id:
            continue
        sources, targets = forms(message.id), forms(message.string)
        expected = set().union(*map(_fields, sources))
        broken += [(sources[0], t) for t in targets if _fields(t) != expected]
    assert not broken, f"{language}: placeholders differ from the English: {broken}"


def test_the_catalogs_ship_in_the_wheel() -> None:
    """The package data globs of pyproject.toml cover every catalog file (the gateway reads the
    `.po` at run time, so a wheel without it would answer in English only)."""
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]
    globs = setuptools["setuptools"]["package-data"]["aibot"]
    package = ROOT / "src" / "aibot"
    for language in CATALOG_LOCALES:
        relative = po_file(language).relative_to(package).as_posix()
        assert any(fnmatch.fnmatch(relative, glob) for glob in globs), relative


def test_only_the_chat_pages_script_marks_words_with_t(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`t(…)` is the chat page's own function, in each of its scripts (not in the vendored
    minified markdown-it): a Python name `t` (indexed or called) is not."""
    (tmp_path / "tool.py").write_text(
        't = {"a": 1}\nprint(t["not-a-msgid"], t("nor-this"), N_("a Python word"))\n'
    )
    script = tmp_path / "channels" / "webchat" / "static" / "app.js"
    script.parent.mkdir(parents=True)
    script.write_text('const label = t("a page word");\n')
    (script.parent / "chat-messages.js").write_text('el("p", null, t("another page word"));\n')
    (script.parent / "markdown-it.min.js").write_text('function t(e){return e}t("vendored");\n')
    monkeypatch.setattr(extraction, "PACKAGE_DIR", tmp_path)
    assert ids(extract()) == {"a Python word", "a page word", "another page word"}
