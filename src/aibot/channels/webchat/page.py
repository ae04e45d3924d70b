"""The chat page in the reader's language: `index.html` rendered with the gettext catalog, and
the words its scripts show (their `t("…")` calls) handed to it as JSON in the page.

Both are built once per language, when the page is first asked for in it: the page is static
apart from its words. Jinja and Babel's extractor are imported then too, not at start.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING

from aibot.i18n import template, translate
from aibot.ops.gc_tuning import settle_after_build

if TYPE_CHECKING:
    from jinja2 import Environment

HERE = Path(__file__).parent


@functools.cache
def _templates() -> Environment:
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    return Environment(
        loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(default=True)
    )


def page_scripts() -> list[Path]:
    """The chat page's own scripts (not the vendored, minified markdown-it): the files whose
    `t(…)` calls `aibot.i18n.extract` reads too."""
    return sorted(p for p in (HERE / "static").glob("*.js") if not p.name.endswith(".min.js"))


@functools.cache
def script_msgids() -> tuple[str, ...]:
    """Every msgid the page's scripts pass to `t(…)`, read the way the catalog's extraction
    reads them."""
    from babel.messages.extract import extract

    msgids: set[str] = set()
    for path in page_scripts():
        with path.open("rb") as script:
            found = extract("javascript", script, keywords={"t": None})
            msgids.update(str(message) for _, message, _, _ in found)
    return tuple(sorted(msgids))


@functools.cache
def render(language: str) -> str:
    def _(msgid: str) -> str:
        return translate(language, msgid)

    catalog = {msgid: template(language, msgid) for msgid in script_msgids()}
    page = _templates().get_template("index.html").render(_=_, language=language, catalog=catalog)
    settle_after_build()  # Jinja and the compiled template stay for good: out of collections
    return page
