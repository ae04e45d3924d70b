"""The types /graphql answers with. Names follow GraphQL custom (camelCase fields, Relay-style
connections with `edges`, `node`, `cursor` and `pageInfo`), so generic clients page through
them without special code."""

import strawberry


@strawberry.type(description="Where a page ends and whether another follows.")
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


@strawberry.type
class ModelInfo:
    name: str
    model: str
    circuit: str = strawberry.field(description="closed, open or half_open.")
    default: bool


@strawberry.type
class Health:
    ready: bool
    version: str
    store_ok: bool
    provider_ok: bool
    problems: list[str]
    queue_waiting: int


@strawberry.type
class ChannelStatus:
    name: str
    ok: bool
    paused: bool
    role: str | None = strawberry.field(description="Scale-out: receiver or standby.")
    problem: str | None


@strawberry.type(description="Answers and tokens per provider since a time.")
class Usage:
    provider: str
    answers: int
    prompt_tokens: int
    completion_tokens: int


@strawberry.type(description="👍 and 👎 per provider since a time.")
class Ratings:
    provider: str
    good: int
    bad: int


@strawberry.type(description="The answer to sendMessage: the same fields as POST /api/v1/chat.")
class ChatReply:
    reply: str
    session_id: str
    model: str | None
    provider: str | None
    prompt_tokens: int
    completion_tokens: int
    command: bool


@strawberry.type(description="One event of a streamed answer: deltas, then done or error.")
class AnswerEvent:
    type: str = strawberry.field(description="delta, done or error.")
    text: str | None = None
    reply: ChatReply | None = None
    message: str | None = None
