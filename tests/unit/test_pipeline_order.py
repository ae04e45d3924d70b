"""The pipeline's order: a middleware wraps the stages after it, a finished turn skips the rest
but not the after parts already entered, and a model outage ends the turn the same way."""

from __future__ import annotations

import pytest

from aibot.core.errors import ModelUnavailable
from aibot.core.messages import Inbound
from aibot.core.pipeline import Middleware, Next, Pipeline, Stage, TurnContext


class Log:
    def __init__(self) -> None:
        self.events: list[str] = []

    def step(self, name: str, *, finish: bool = False, fail: Exception | None = None) -> Stage:
        async def run(ctx: TurnContext) -> None:
            self.events.append(name)
            if fail is not None:
                raise fail
            if finish:
                ctx.answer(f"answered by {name}")

        return run

    def around(self, name: str) -> Stage:
        return _Around(self.events, name)


class _Around(Middleware):
    def __init__(self, events: list[str], name: str) -> None:
        self._events = events
        self._name = name

    async def __call__(self, ctx: TurnContext, call_next: Next) -> None:
        self._events.append(f"{self._name}:before")
        await call_next(ctx)
        self._events.append(f"{self._name}:after finished={ctx.finished} error={ctx.error}")


def turn() -> TurnContext:
    inbound = Inbound("test", "s", "u", "hi", "r", 0.0, principal="test")
    return TurnContext(inbound, 0.0)


async def test_a_middleware_wraps_the_stages_after_it() -> None:
    log = Log()
    pipeline = Pipeline(
        [
            log.step("a"),
            log.around("outer"),
            log.step("b"),
            log.around("inner"),
            log.step("c"),
            log.step("d"),
        ]
    )
    ctx = await pipeline.run(turn())
    assert log.events == [
        "a",
        "outer:before",
        "b",
        "inner:before",
        "c",
        "d",
        "inner:after finished=False error=None",
        "outer:after finished=False error=None",
    ]
    assert not ctx.finished


async def test_a_finished_turn_skips_the_rest_but_not_the_after_parts_entered() -> None:
    log = Log()
    pipeline = Pipeline(
        [
            log.around("persist"),
            log.step("commands", finish=True),
            log.around("cache"),  # listed after the finishing stage: neither part runs
            log.step("model"),
        ]
    )
    ctx = await pipeline.run(turn())
    assert log.events == ["persist:before", "commands", "persist:after finished=True error=None"]
    assert ctx.reply == "answered by commands"


async def test_a_middleware_last_in_the_list_and_one_after_a_finish_before_it() -> None:
    log = Log()
    ctx = await Pipeline([log.step("refuse", finish=True), log.around("late")]).run(turn())
    assert log.events == ["refuse"] and ctx.finished
    log = Log()
    await Pipeline([log.step("a"), log.around("last")]).run(turn())
    assert log.events == ["a", "last:before", "last:after finished=False error=None"]


async def test_model_unavailable_ends_the_turn_and_the_after_parts_still_run() -> None:
    log = Log()
    pipeline = Pipeline(
        [
            log.around("persist"),
            log.around("quota"),
            log.step("model", fail=ModelUnavailable("the model is down")),
            log.step("never"),
        ]
    )
    ctx = await pipeline.run(turn())
    assert log.events == [
        "persist:before",
        "quota:before",
        "model",
        "quota:after finished=True error=the model is down",
        "persist:after finished=True error=the model is down",
    ]
    assert ctx.error == "the model is down" and ctx.reply is None


async def test_any_other_error_propagates_without_after_parts() -> None:
    """A bug or a store failure is not a turn to remember: the caller commits nothing."""
    log = Log()
    pipeline = Pipeline([log.around("persist"), log.step("session", fail=OSError("disk"))])
    with pytest.raises(OSError, match="disk"):
        await pipeline.run(turn())
    assert log.events == ["persist:before", "session"]
