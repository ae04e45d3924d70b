"""The chat page in the reader's language: `index.html` rendered with the gettext catalog, and
the words `app.js` shows (its `t("…")` calls) handed to it as JSON in the page.

Both are built once per language: the page is static apart from its words.
"""

from __future__ import annotations

import functools
from pathlib import Path

from babel.messages.extract import extract
from jinja2 import Environment, FileSystemLoader, select_autoescape

from aibot.i18n import template, translate

HERE = Path(__file__).parent
_ENV = Environment(
    loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(default=True)
)


@functools.cache
def script_msgids() -> tuple[str, ...]:
    """Every msgid `app.js` passes to `t(…)`, read the way the catalog's extraction reads it."""
    with (HERE / "static" / "app.js").open("rb") as script:
        found = extract("javascript", script, keywords={"t": None})
        return tuple(sorted({str(message) for _, message, _, _ in found}))


@functools.cache
def render(language: str) -> str:
    def _(msgid: str) -> str:
        return translate(language, msgid)

    catalog = {msgid: template(language, msgid) for msgid in script_msgids()}
    return _ENV.get_template("index.html").render(_=_, language=language, catalog=catalog)
