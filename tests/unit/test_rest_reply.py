"""`POST /api/v1/chat`'s answer is built as a plain dict (channels/http_api/rest.py): it must be
what the documented `ChatReply` model makes of the same turn."""

from __future__ import annotations

from aibot.channels.http_api.rest import ChatReply, reply_body
from aibot.core.messages import Inbound, Usage
from aibot.core.pipeline import TurnContext


def _turn(**fields: object) -> TurnContext:
    inbound = Inbound("api", "api:key-1:s", "api:key-1", "hi", "r1", 0.0)
    ctx = TurnContext(inbound, 0.0)
    for name, value in fields.items():
        setattr(ctx, name, value)
    return ctx


def test_the_reply_is_what_the_documented_model_dumps() -> None:
    for ctx in (
        _turn(reply="hello", model="gpt", provider="fake", usage=Usage(3, 4)),
        _turn(reply=None, is_command=True),  # a command answered nothing: ""
    ):
        body = reply_body(ctx, "s")
        assert body == ChatReply(**body).model_dump()
        assert list(body) == list(ChatReply.model_fields)
    assert reply_body(_turn(reply=None), "s")["reply"] == ""
