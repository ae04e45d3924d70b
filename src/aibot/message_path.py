"""The one list that orders the pipeline: read `build_pipeline` top to bottom to follow a message.

Core stages (core/stages.py) and policy stages (policy/stages.py) meet here, as rooms meet in
app.py, so neither room imports the other.
"""

from __future__ import annotations

from collections.abc import Callable

from aibot.config import SessionConfig
from aibot.core.commands import Commands
from aibot.core.pipeline import Pipeline, Stage
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
from aibot.ops.metrics import Metrics
from aibot.policy.policies import PolicyHolder, PolicyServices
from aibot.policy.stages import (
    AccessPolicyStage,
    CacheFinalizer,
    CacheStage,
    InputFilterStage,
    OutputFilterStage,
    OutputGuardStage,
    QuotaFinalizer,
    RateLimitStage,
    RouteStage,
)


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
) -> Pipeline:
    stages: list[tuple[str, Stage]] = [
        ("access", access_stage),  # an authenticated principal (API key, platform signature)
        ("access_policy", AccessPolicyStage(policies, services)),  # lists, DM policy, pairing
        ("session", SessionStage(memory)),
        ("rate_limit", RateLimitStage(policies, services)),
        ("commands", CommandStage(commands)),
        ("route", RouteStage(policies, services)),  # model, persona, filters; canary split
        ("input_filter", InputFilterStage(policies, services)),
        ("cache", CacheStage(policies, services)),
        ("context", ContextStage(session)),
        ("output_guard", OutputGuardStage(policies, services)),  # streamed words held back
        ("model", ModelStage(router)),
        ("output_filter", OutputFilterStage(policies, services)),
    ]
    finalizers: list[tuple[str, Stage]] = [
        ("persist", PersistStage(memory, clock)),
        ("quota", QuotaFinalizer(policies, services)),
        ("cache_store", CacheFinalizer(policies, services)),
    ]
    return Pipeline(stages, finalizers, metrics)
