"""One limit on the length of a user's message, the same for every channel.

`server.max_message_chars` (default 32,000 characters) bounds what a person or program may send
in one message: longer text would be stored, searched, masked and sent to the model whole.
Where it is enforced:
- HTTP APIs (REST, the webhook channel, `/v1` for every message of the body) refuse a longer
  message at once with a 413 / OpenAI's 400, before anything is stored;
- messages from chat platforms are committed to the inbox (the platform must get its
  acknowledgement) with their text cut to `limit + 1` characters by `clip`, enough to know they
  were too long and never more;
- `MessageSizeStage`, first in the pipeline after authentication, answers any message still
  over the limit (platforms, the web page) with `too_long_reply`, and nothing of it is
  remembered.
"""

from __future__ import annotations

from aibot.core.pipeline import TurnContext
from aibot.i18n import translate

DEFAULT_MAX_MESSAGE_CHARS = 32_000
REFUSAL = "too_long"


def clip(text: str, limit: int) -> str:
    """`text`, or its first `limit + 1` characters: still over the limit, never unbounded."""
    return text if len(text) <= limit else text[: limit + 1]


def too_long_reply(language: str, limit: int) -> str:
    """What the sender of a message over the limit reads, in their language."""
    return translate(
        language,
        "Your message is too long: at most {limit} characters per message. "
        "Please shorten it or send it in several parts.",
        limit=limit,
    )


class MessageSizeStage:
    """Refuses a message over the limit before anything reads, stores or forwards it."""

    def __init__(self, limit: int) -> None:
        self.limit = limit

    async def __call__(self, ctx: TurnContext) -> None:
        if len(ctx.inbound.text) > self.limit:
            ctx.refusal = REFUSAL
            ctx.keep_turn = False
            ctx.answer(too_long_reply(ctx.language, self.limit))
