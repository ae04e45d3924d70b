"""The one list that orders the pipeline: read `build_pipeline` top to bottom to follow a message.

How a message flows through the pipeline: each stage in the list runs in turn over one
`TurnContext`. A plain stage reads and fills in the context. A middleware (marked "around" below)
acts before the stages listed after it and again after them, so a pair such as "check the rate
limit, then count the tokens used" is one object. A stage that finishes the turn (a refusal, a
command, a fixed or cached answer) skips the rest of the list, but the after parts of the
middlewares already entered still run: `persist` wraps everything after the session is loaded,
so a turn is remembered (or deliberately not: refusals, commands, failed model calls) whatever
happened. A `ModelUnavailable` from the model ends the turn with `error` set, the same way.

Core stages (core/stages.py) and policy stages (policy/stages.py) meet here, in the gateway
where all rooms meet, so neither room imports the other.
"""

from __future__ import annotations

from collections.abc import Callable

from aibot.config import SessionConfig
from aibot.core.commands import Commands
from aibot.core.message_size import DEFAULT_MAX_MESSAGE_CHARS, MessageSizeStage
from aibot.core.pipeline import Middleware, Pipeline
from aibot.core.sessions import SessionMemory
from aibot.core.stages import (
    CommandStage,
    ContextStage,
    ModelRouter,
    ModelStage,
    PersistStage,
    SessionStage,
    access_stage,
)
from aibot.core.tool_support import ToolSupport
from aibot.gateway.media import build_media
from aibot.ops.metrics import Metrics
from aibot.policy.policies import PolicyHolder, PolicyServices
from aibot.policy.stages import (
    AccessPolicyStage,
    CacheStage,
    InputFilterStage,
    OutputFilterStage,
    RateLimitStage,
    RouteStage,
)

__all__ = ["build_media", "build_pipeline"]  # the media stage is built beside the path


def build_pipeline(
    *,
    memory: SessionMemory,
    commands: Commands,
    router: ModelRouter,
    session: SessionConfig,
    policies: PolicyHolder,
    services: PolicyServices,
    metrics: Metrics,
    clock: Callable[[], float],
    tools: ToolSupport | None = None,
    max_message_chars: int = DEFAULT_MAX_MESSAGE_CHARS,
    media: Middleware,
) -> Pipeline:
    return Pipeline(
        [
            access_stage,  # an authenticated principal (API key, platform signature)
            MessageSizeStage(max_message_chars),  # too long: refused, nothing kept
            AccessPolicyStage(policies, services),  # lists, DM policy, pairing
            SessionStage(memory, metrics),  # the conversation's recent turns
            PersistStage(memory, clock),  # around: queue the turn's writes, whatever happened
            RateLimitStage(policies, services),  # around: buckets and quota; count the tokens
            CommandStage(commands),  # /reset, /model, … answered here
            RouteStage(policies, services),  # model, persona, filters; canary split
            media,  # around: attachments fetched and read; a voice reply quotes what was heard
            InputFilterStage(policies, services),  # sensitive words: refuse or mask
            CacheStage(policies, services),  # around: a first question answered before; store
            ContextStage(session),  # system prompt + the turns that fit + the new message
            OutputFilterStage(policies, services),  # around: streamed words held back; mask
            ModelStage(router, metrics, tools),  # with the route's tools: the tool loop
        ]
    )
