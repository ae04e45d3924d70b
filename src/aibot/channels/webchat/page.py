"""The chat page in the reader's language: `index.html` rendered with the gettext catalog, and
the words `app.js` shows (its `t("…")` calls) handed to it as JSON in the page.

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


@functools.cache
def script_msgids() -> tuple[str, ...]:
    """Every msgid `app.js` passes to `t(…)`, read the way the catalog's extraction reads it."""
    from babel.messages.extract import extract

    with (HERE / "static" / "app.js").open("rb") as script:
        found = extract("javascript", script, keywords={"t": None})
        return tuple(sorted({str(message) for _, message, _, _ in found}))


@functools.cache
def render(language: str) -> str:
    def _(msgid: str) -> str:
        return translate(language, msgid)

    catalog = {msgid: template(language, msgid) for msgid in script_msgids()}
    page = _templates().get_template("index.html").render(_=_, language=language, catalog=catalog)
    settle_after_build()  # Jinja and the compiled template stay for good: out of collections
    return page
