"""Every word a person reads from ai-bot, in their language: zh-CN (简体中文) and en.

The strings live in gettext catalogs read with Babel: `locales/zh_CN/LC_MESSAGES/messages.po`
beside this file. English is the source language, so the msgid *is* the English text and needs
no catalog of its own. The `.po` file is read at first use (no compile step), so a fresh
`pip install -e .`, a wheel and a container all work the same.

How to add a user-facing string (chat reply, page, console, CLI, wizard, error)
-----------------------------------------------------------------------------
1. Write it in English through `translate`, with `{name}` placeholders (never f-strings or `%`,
   so the translation can move them; write `{{` and `}}` for literal braces)::

       from aibot.i18n import translate
       reply = translate(language, "Unknown model '{name}'. Available: {names}", name=arg,
                         names=available)

   A list inside a sentence is `join_list(language, names)` (`clauses=True` for steps or
   causes), so Chinese reads 甲、乙 and 第一步；第二步 rather than English commas.
   Counted things use `translate_plural(language, singular, plural, n, **params)`; `{n}` is
   filled in. A string defined before its language is known (a module constant, a table row)
   is marked with `N_("…")` and translated where it is shown: `translate(language, CONSTANT)`.
   In a console template: `{{ _("Save") }}` (the page's `_` knows the request's language).
2. Run `.venv/bin/python -m aibot.i18n.extract` — it finds every marked string in `src/aibot`
   and adds the new msgids to the `.po` file (and drops the ones no longer used).
3. Write the Chinese in `messages.po` as a native writer would say it in a product (short,
   polite, active: "模型暂时不可用，请稍后再试", not a word-by-word rendering). Keep every
   `{placeholder}`; write "{n} 条" rather than copying English plurals.
4. `tests/unit/test_i18n_catalog.py` fails while a marked string has no Chinese, a catalog entry
   is no longer used, or a translation lost a placeholder.

Which language
--------------
`ui.language` in config.yaml: `zh-CN` or `en` forces one; `auto` (the default) follows what the
person's side says — the browser's `Accept-Language` on pages and HTTP calls, the platform
user's locale where the platform sends one (Telegram's `language_code`) — else
`ui.default_language` (zh-CN). The gateway and the CLI call `configure` once the config is
loaded (and again on reload); after that `pick(hint, …)` chooses for a request or a chat turn,
`terminal_language()` for the CLI (from `LC_ALL` / `LC_MESSAGES` / `LANG`); CLI code writes
`tr("…")` (`aibot.cli.common`), which the extraction also reads.
"""

from __future__ import annotations

from aibot.i18n.catalog import (
    N_,
    Phrase,
    join_list,
    phrase_of,
    said,
    template,
    translate,
    translate_plural,
)
from aibot.i18n.negotiate import (
    DEFAULT_LANGUAGE,
    LANGUAGES,
    Language,
    configure,
    locale_hint,
    match_language,
    pick,
    request_language,
    set_request_language,
    terminal_language,
)


def tr(msgid: str, /, **params: object) -> str:
    """`msgid` in the CLI's language (`terminal_language()`: `ui.language` once the config is
    read, else the terminal's locale), for what a command prints; the extraction reads `tr`."""
    return translate(terminal_language(), msgid, **params)


__all__ = [
    "DEFAULT_LANGUAGE",
    "LANGUAGES",
    "N_",
    "Language",
    "Phrase",
    "configure",
    "join_list",
    "locale_hint",
    "match_language",
    "phrase_of",
    "pick",
    "request_language",
    "said",
    "set_request_language",
    "template",
    "terminal_language",
    "tr",
    "translate",
    "translate_plural",
]
