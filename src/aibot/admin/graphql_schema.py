"""The /graphql schema: queries over conversations (masked as in the console), models, health,
channels, usage and ratings; `sendMessage` with the semantics of POST /api/v1/chat; the
`answer` subscription streaming an answer's deltas.

Who may do what is the REST rule: any key or token that opens /graphql (scope all or rest)
may chat and read models, health and channels; conversations, usage and ratings are the
operator's data and need scope all. Depth, aliases and tokens of a document are bounded before
it runs, and a page holds at most 100 items.

What we refuse is said in the caller's language, chosen as REST chooses it (`Accept-Language`,
else `ui.default_language`); `extensions.code` stays an English constant for programs.
GraphQL's own validation errors (syntax, unknown fields) are graphql-core's protocol text.
"""

import asyncio
import re
import uuid
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.extensions import MaxAliasesLimiter, MaxTokensLimiter, QueryDepthLimiter
from strawberry.types import Info

from aibot import __version__
from aibot.admin import graphql_data as data
from aibot.admin.gateway_view import GatewayView
from aibot.admin.graphql_types import (
    AnswerEvent,
    ChannelStatus,
    ChatReply,
    Health,
    ModelInfo,
    PageInfo,
    Ratings,
    Usage,
)
from aibot.channels.api_keys import READ_SCOPE
from aibot.channels.base import Clock
from aibot.channels.http_bodies import REFUSALS, SESSION_PATTERN
from aibot.channels.identity import api_caller
from aibot.core.errors import AccessDenied, QueueFull
from aibot.core.messages import Inbound, ReplyTarget
from aibot.core.pipeline import TurnContext
from aibot.core.service import ChatService, stream_turn
from aibot.i18n import N_, pick, said, translate
from aibot.ops.pii import mask_pii
from aibot.store import graphql_reads

MAX_DEPTH = 8
MAX_ALIASES = 15
MAX_TOKENS = 2000
DAY = 86400.0
_SESSION = re.compile(SESSION_PATTERN)


@dataclass(frozen=True)
class Caller:
    principal: str
    scope: str
    locale: str | None = None


@dataclass(frozen=True)
class GraphApi:
    view: GatewayView
    service: ChatService
    clock: Clock


UNAUTHENTICATED = N_("missing or invalid API key or token")


def _language(info: Info) -> str:
    language: str | None = info.context.get("language")  # graphql_app.py: the request's
    return language or pick()


def refused(info: Info, msgid: str, code: str, **params: object) -> GraphQLError:
    return GraphQLError(translate(_language(info), msgid, **params), extensions={"code": code})


def bad_input(info: Info, exc: ValueError) -> GraphQLError:
    """A page argument graphql_data.py refused (with a Phrase), said in the caller's language."""
    return GraphQLError(said(exc, _language(info)), extensions={"code": "BAD_USER_INPUT"})


def _api(info: Info) -> GraphApi:
    api: GraphApi = info.context["api"]
    return api


def _caller(info: Info, *, operator: bool = False, write: bool = False) -> Caller:
    """Scope "read" (a console viewer's token) reads what the console shows a viewer, operator
    data included, but sends nothing."""
    caller: Caller | None = info.context.get("caller")
    if caller is None:
        raise refused(info, UNAUTHENTICATED, "UNAUTHENTICATED")
    if operator and caller.scope not in ("all", READ_SCOPE):
        raise refused(info, N_("this needs a key or token of scope all"), "FORBIDDEN")
    if write and caller.scope == READ_SCOPE:
        raise refused(info, N_("a read-only token cannot send messages"), "FORBIDDEN")
    return caller


async def _masked(view: GatewayView, texts: list[str]) -> list[str]:
    """Masked as the console masks, in a worker thread (long texts take CPU time)."""
    return await asyncio.to_thread(lambda: [mask_pii(view.mask_secrets(t)) for t in texts])


def _since(api: GraphApi, since: float | None) -> float:
    return since if since is not None else api.clock.now() - DAY


@strawberry.type(description="One message of a conversation, masked as the console shows it.")
class Turn:
    role: str
    content: str
    provider: str | None
    model: str | None
    created_at: float
    session_key: strawberry.Private[str]

    @strawberry.field(description="The conversation it belongs to.")
    async def conversation(self, info: Info) -> "Conversation | None":
        return await _conversation(info, self.session_key)


@strawberry.type
class TurnEdge:
    cursor: str
    node: Turn


@strawberry.type
class TurnConnection:
    edges: list[TurnEdge]
    page_info: PageInfo


@strawberry.type(description="A conversation as the console lists it.")
class Conversation:
    session_key: str
    channel: str
    user_id: str
    updated_at: float

    @strawberry.field(description="Its stored turns, oldest first.")
    async def turns(self, info: Info, first: int = 20, after: str | None = None) -> TurnConnection:
        api = _api(info)
        try:
            rows, more = await data.turn_page(
                api.view.engine, api.view.cipher, self.session_key, first, after
            )
        except ValueError as exc:
            raise bad_input(info, exc) from None
        texts = await _masked(api.view, [r.content for r in rows])
        edges = [
            TurnEdge(
                cursor=r.cursor,
                node=Turn(
                    role=r.role,
                    content=text,
                    provider=r.provider,
                    model=r.model,
                    created_at=r.created_at,
                    session_key=self.session_key,
                ),
            )
            for r, text in zip(rows, texts, strict=True)
        ]
        return TurnConnection(edges=edges, page_info=_page_info(edges, more))


@strawberry.type
class ConversationEdge:
    cursor: str
    node: Conversation


@strawberry.type
class ConversationConnection:
    edges: list[ConversationEdge]
    page_info: PageInfo


async def _conversation(info: Info, session_key: str) -> Conversation | None:
    _caller(info, operator=True)
    row = await data.conversation_by_key(_api(info).view.engine, session_key)
    if row is None:
        return None
    return Conversation(
        session_key=row.session_key,
        channel=row.channel,
        user_id=row.user_id,
        updated_at=row.updated_at,
    )


def _page_info(edges: list[Any], more: bool) -> PageInfo:
    return PageInfo(has_next_page=more, end_cursor=edges[-1].cursor if edges else None)


@strawberry.type
class Query:
    @strawberry.field(description="Conversations, newest first (scope all).")
    async def conversations(
        self, info: Info, first: int = 20, after: str | None = None, channel: str | None = None
    ) -> ConversationConnection:
        _caller(info, operator=True)
        try:
            rows, more = await data.conversation_page(_api(info).view.engine, first, after, channel)
        except ValueError as exc:
            raise bad_input(info, exc) from None
        edges = [
            ConversationEdge(
                cursor=r.cursor,
                node=Conversation(
                    session_key=r.session_key,
                    channel=r.channel,
                    user_id=r.user_id,
                    updated_at=r.updated_at,
                ),
            )
            for r in rows
        ]
        return ConversationConnection(edges=edges, page_info=_page_info(edges, more))

    @strawberry.field(description="One conversation by its key (scope all).")
    async def conversation(self, info: Info, session_key: str) -> Conversation | None:
        return await _conversation(info, session_key[:255])

    @strawberry.field(description="The providers, their models and circuit state.")
    def models(self, info: Info) -> list[ModelInfo]:
        _caller(info)
        state = _api(info).view.models()
        return [
            ModelInfo(name=p.name, model=p.model, circuit=p.circuit, default=p.default)
            for p in state.providers
        ]

    @strawberry.field(description="The same report as /readyz.")
    async def health(self, info: Info) -> Health:
        _caller(info)
        report = await _api(info).view.readiness()
        return Health(
            ready=bool(report["ready"]),
            version=__version__,
            store_ok=bool(report["store"]["ok"]),
            provider_ok=bool(report["provider"]["ok"]),
            problems=[str(p) for p in report["provider"].get("problems", [])],
            queue_waiting=int(report["queue"]["waiting"]),
        )

    @strawberry.field(description="Every channel and its status.")
    async def channels(self, info: Info) -> list[ChannelStatus]:
        _caller(info)
        report = await _api(info).view.readiness()
        return [
            ChannelStatus(
                name=name,
                ok=bool(status.get("ok")),
                paused=bool(status.get("paused", False)),
                role=status.get("role"),
                problem=status.get("problem") or status.get("error"),
            )
            for name, status in sorted(report["channels"].items())
        ]

    @strawberry.field(description="Answers and tokens per provider (scope all; default 24 h).")
    async def usage(self, info: Info, since: float | None = None) -> list[Usage]:
        _caller(info, operator=True)
        api = _api(info)
        rows = await graphql_reads.usage_since(api.view.engine, _since(api, since))
        return [Usage(**r.__dict__) for r in rows]

    @strawberry.field(description="Ratings per provider (scope all; default 24 h).")
    async def ratings(self, info: Info, since: float | None = None) -> list[Ratings]:
        _caller(info, operator=True)
        api = _api(info)
        rows = await graphql_reads.ratings_since(api.view.engine, _since(api, since))
        return [Ratings(**r.__dict__) for r in rows]


def _inbound(info: Info, session_id: str, message: str, user_id: str | None) -> Inbound:
    """The same message POST /api/v1/chat makes of its body, checked the same way."""
    caller = _caller(info, write=True)
    api = _api(info)
    if not _SESSION.match(session_id):
        raise refused(info, N_("sessionId: 1-128 letters, digits or _.:@-"), "BAD_USER_INPUT")
    limit = api.service.max_message_chars
    if not message or len(message) > limit:
        raise refused(info, N_("message: 1 to {limit} characters"), "BAD_USER_INPUT", limit=limit)
    if user_id is not None and not 0 < len(user_id) <= 255:
        raise refused(info, N_("userId: 1 to 255 characters"), "BAD_USER_INPUT")
    who = caller.principal
    named = api_caller("api", who, user_id, session_id)  # within the key, as REST names it
    return Inbound(
        channel="api",
        session_key=named.session_key,
        user_id=named.user_id,
        text=message,
        request_id=uuid.uuid4().hex,
        received_at=api.clock.now(),
        principal=who,
        target=ReplyTarget(chat_id=who, locale=caller.locale),  # per-chat limits: the key
    )


def _failed(info: Info, exc: BaseException | None, error: str | None) -> GraphQLError:
    """A turn that did not answer, in the words REST gives the same failure (rest.py)."""
    if isinstance(exc, QueueFull):
        return refused(info, REFUSALS["overloaded"], "OVERLOADED")
    if isinstance(exc, AccessDenied):
        return refused(info, N_("access denied"), "FORBIDDEN")
    return refused(info, REFUSALS["model_unavailable"], "MODEL_UNAVAILABLE", reason=error or exc)


def _reply(ctx: TurnContext, session_id: str) -> ChatReply:
    return ChatReply(
        reply=ctx.reply or "",
        session_id=session_id,
        model=ctx.model,
        provider=ctx.provider,
        prompt_tokens=ctx.usage.prompt_tokens,
        completion_tokens=ctx.usage.completion_tokens,
        command=ctx.is_command,
    )


@strawberry.type
class Mutation:
    @strawberry.mutation(description="Send one message; the gateway keeps the memory.")
    async def send_message(
        self, info: Info, session_id: str, message: str, user_id: str | None = None
    ) -> ChatReply:
        inbound = _inbound(info, session_id, message, user_id)
        try:
            ctx = await _api(info).service.handle(inbound)
        except (QueueFull, AccessDenied) as exc:
            raise _failed(info, exc, None) from None
        if ctx.error is not None:
            raise _failed(info, None, ctx.error)
        return _reply(ctx, session_id)


@strawberry.type
class Subscription:
    @strawberry.subscription(description="Send one message and stream the answer's deltas.")
    async def answer(
        self, info: Info, session_id: str, message: str, user_id: str | None = None
    ) -> AsyncGenerator[AnswerEvent, None]:
        inbound = _inbound(info, session_id, message, user_id)
        async for item in stream_turn(_api(info).service, inbound):
            if isinstance(item, str):
                yield AnswerEvent(type="delta", text=item)
            elif item.ctx is not None and item.ctx.error is None:
                yield AnswerEvent(type="done", reply=_reply(item.ctx, session_id))
            else:
                error = item.ctx.error if item.ctx is not None else None
                yield AnswerEvent(type="error", message=_failed(info, item.exc, error).message)


def build_schema() -> strawberry.Schema:
    return strawberry.Schema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        extensions=[
            lambda: QueryDepthLimiter(max_depth=MAX_DEPTH),
            lambda: MaxAliasesLimiter(max_alias_count=MAX_ALIASES),
            lambda: MaxTokensLimiter(max_token_count=MAX_TOKENS),
        ],
    )
