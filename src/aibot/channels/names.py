"""Each channel's name as a person reads it: 飞书 for `feishu` in a zh-CN console.

The codes (`feishu`, `web`, `openai`…) stay what the store, /readyz, the metrics' labels and
every API speak; a page, a table or a CLI line that names a channel to a person shows this
name instead. A code this table does not know (a channel of a later version) is shown as it
is.
"""

from __future__ import annotations

from aibot.i18n import N_, translate

NAMES = {
    "web": N_("web chat"),
    "api": N_("REST API"),
    "openai": N_("OpenAI-compatible API"),
    "webhook": N_("webhook"),
    "cli": N_("command line"),
    "telegram": N_("Telegram"),
    "feishu": N_("Feishu"),
    "dingtalk": N_("DingTalk"),
    "wecom": N_("WeCom"),
}


def channel_name(language: str, code: str) -> str:
    """The name of the channel `code` in `language`; an unknown code as it is."""
    msgid = NAMES.get(code)
    return translate(language, msgid) if msgid else code
