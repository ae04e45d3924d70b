"""The console's words for values it shows from the store and the gateway: states, roles,
yes/no, the audit log's actions, the channels' names. The values stay as they are (they are
what the CLI, /readyz and the store speak); a page shows them through the `shown` filter (an
action through `action`, a channel through `channel`), in the language of the request. A
value with no entry here (a channel's own mode, an identifier) is shown as it is.
"""

from __future__ import annotations

from markupsafe import Markup, escape

from aibot import i18n
from aibot.channels.names import NAMES, channel_name
from aibot.i18n import N_

WORDS = {
    # roles
    "viewer": N_("viewer"),
    "operator": N_("operator"),
    "admin": N_("admin"),
    # channels, store
    "ok": N_("ok"),
    "problem": N_("problem"),
    "paused": N_("paused"),
    "down": N_("down"),
    "receiving": N_("receiving"),
    "standby": N_("standby"),
    # provider circuits
    "closed": N_("closed"),
    "open": N_("open"),
    "half_open": N_("half open"),
    # API keys, schedules
    "active": N_("active"),
    "revoked": N_("revoked"),
    "expired": N_("expired"),
    # outbox and schedule runs
    "dead": N_("dead"),
    "pending": N_("pending"),
    "running": N_("running"),
    "sent": N_("sent"),
    "missed": N_("missed"),
    "failed": N_("failed"),
    # transcript
    "user": N_("user"),
    "assistant": N_("assistant"),
    "system": N_("system"),
    "tool": N_("tool"),
    # attachments
    "image": N_("picture"),
    "audio": N_("voice"),
    "file": N_("file"),
}
# The audit log's actions by their stored codes (data the store, scripts and exports keep):
# every code the code writes has one, tests/unit/test_audit_actions.py collects them.
ACTIONS = {
    # the console
    "login": N_("signed in"),
    "login.failed": N_("sign-in failed"),
    "logout": N_("signed out"),
    "token.issue": N_("access token issued"),
    "apikey.create": N_("API key created"),
    "apikey.rotate": N_("API key rotated"),
    "apikey.revoke": N_("API key revoked"),
    "conversation.export": N_("conversation exported"),
    "deadletter.retry": N_("dead letter sent again"),
    "channel.pause": N_("channel paused"),
    "channel.resume": N_("channel resumed"),
    "model.default": N_("default model changed"),
    "model.canary": N_("canary changed"),
    "policy.edit": N_("policies changed"),
    "schedule.pause": N_("schedule paused"),
    "schedule.resume": N_("schedule resumed"),
    "schedule.run_now": N_("schedule run now"),
    "user.signout": N_("user signed out everywhere"),
    # the console or the CLI
    "user.create": N_("user created"),
    "user.password": N_("password changed"),
    "user.totp": N_("two-step sign-in changed"),
    "canary.promote": N_("canary made the default"),
    "canary.rollback": N_("canary rolled back"),
    # the gateway
    "tool.call": N_("tool called"),
    "event.bot_added": N_("bot added to a chat"),
    "event.bot_removed": N_("bot removed from a chat"),
    "event.member_joined": N_("member joined a chat"),
    "event.user_entered": N_("user opened the app"),
    "event.contact_changed": N_("contacts changed"),
}
# What the details of a channel's status are called.
DETAILS = {
    "mode": N_("mode"),
    "requires_key": N_("needs an access key"),
    "role": N_("role"),
    "problem": N_("problem"),
    "last_refused_callback": N_("last refused callback"),
}


def _(msgid: str, **params: object) -> Markup:
    """A console string in the language of the request being served: `{{ _("…") }}` in a
    template, `_("…")` in the console's Python (both marked for the catalog). It is HTML-safe:
    the text and every parameter are escaped, except a parameter that is already markup
    (`code("ai-bot init")`), so a translation can move a code span within its sentence."""
    text = i18n.template(i18n.request_language(), msgid)
    try:
        return escape(text).format_map(params)
    except (KeyError, IndexError, ValueError, AttributeError):
        return escape(msgid).format_map(params)


def code(text: str) -> Markup:
    """`text` as a code span, for a parameter of `_`."""
    return Markup("<code>{}</code>").format(text)


def shown(value: object) -> str:
    """A state, a role or a yes/no in the request's language; anything else as it is."""
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    text = str(value)
    return _(WORDS[text]) if text in WORDS else text


def channel(code: object) -> str:
    """A channel's name in the request's language (飞书 for `feishu`); the code stays in the
    page's data attributes and its links."""
    return channel_name(i18n.request_language(), str(code))


def channel_names() -> dict[str, str]:
    """Every channel's name in the request's language, for a page script that names the
    channels of the JSON it polls (which speaks codes)."""
    return {code: channel(code) for code in NAMES}


def detail(name: str) -> str:
    return _(DETAILS[name]) if name in DETAILS else name


def action(stored: str) -> Markup:
    """An audit-log action: its label in the request's language, then its stored code (what
    a filter, an export or a script matches), or the code alone when it has no label."""
    label = ACTIONS.get(stored)
    return Markup("{} {}").format(_(label), code(stored)) if label else code(stored)
