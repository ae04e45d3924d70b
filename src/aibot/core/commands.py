"""Chat commands every channel understands: /reset (/new), /help, /model [name], /stats,
/good and /bad (rate the last answer)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from aibot.core.feedback import Feedback, last_answer_id
from aibot.core.pipeline import TurnContext
from aibot.core.sessions import SessionMemory
from aibot.i18n import N_, join_list, translate

Handler = Callable[[TurnContext, str], Awaitable[str]]


@dataclass(frozen=True, slots=True)
class Command:
    names: tuple[str, ...]
    usage: str
    help: str  # marked with N_, shown in the chat's language
    handler: Handler
    admin: bool = False  # limited to policy.access.admins when that list is set


def parse_command(text: str) -> tuple[str, str] | None:
    """`/model@MyBot  glm` → ("model", "glm"). The @bot suffix is Telegram's group form."""
    stripped = text.strip()
    if not stripped.startswith("/") or len(stripped) < 2:
        return None
    head, _, rest = stripped[1:].partition(" ")
    name = head.split("@", 1)[0].lower()
    return (name, rest.strip()) if name.isidentifier() else None


class ModelCatalog:
    """What /model needs to know about providers, without depending on the providers room.

    The default is asked of its one owner (the router) each time, never copied: the console's
    "Make default", a reload and a canary promotion change it there.
    """

    def __init__(
        self, names: Sequence[str], default: Callable[[], str | None], models: dict[str, str]
    ) -> None:
        self.names = list(names)
        self._default = default
        self.models = models

    @property
    def default(self) -> str | None:
        return self._default()

    def describe(self, name: str) -> str:
        return f"{name} ({self.models[name]})" if name in self.models else name


class Commands:
    def __init__(
        self,
        memory: SessionMemory,
        catalog: ModelCatalog,
        stats: Callable[[], str],
        feedback: Feedback,
        extra: Sequence[Command] = (),
    ) -> None:
        self._memory = memory
        self._catalog = catalog
        self._stats = stats
        self._feedback = feedback
        self.table: list[Command] = [
            Command(
                ("reset", "new"), "/reset", N_("start a new conversation (alias /new)"), self._reset
            ),
            Command(
                ("model",),
                "/model [name]",
                N_("show or switch the model for this chat"),
                self._model,
                admin=True,
            ),
            Command(("good",), "/good", N_("rate the last answer 👍"), self._good),
            Command(("bad",), "/bad", N_("rate the last answer 👎"), self._bad),
            Command(
                ("stats",),
                "/stats",
                N_("traffic since the start (admins)"),
                self._show_stats,
                admin=True,
            ),
            *extra,  # the tools room's: /approve, /deny, /remind
            Command(("help",), "/help", N_("show this help"), self._help),
        ]
        self._by_name = {name: c for c in self.table for name in c.names}

    def find(self, name: str) -> Command | None:
        return self._by_name.get(name)

    async def _reset(self, ctx: TurnContext, _arg: str) -> str:
        if ctx.session is None:
            return translate(
                ctx.language, "This conversation keeps no memory, so there is nothing to reset."
            )
        SessionMemory.reset(ctx.session, ctx.now)
        ctx.conversation_changes["context_from"] = ctx.now
        return translate(ctx.language, "Started a new conversation.")

    async def _model(self, ctx: TurnContext, arg: str) -> str:
        catalog, language = self._catalog, ctx.language
        if not catalog.names:
            return translate(language, "No model provider is configured yet (run `ai-bot init`).")
        current = (ctx.session.model if ctx.session else None) or catalog.default
        available = join_list(language, (catalog.describe(n) for n in catalog.names))
        if not arg:
            return translate(
                language,
                "Current model: {current}\nAvailable: {available}\n"
                "Switch with /model NAME (or /model default).",
                current=catalog.describe(current or "-"),
                available=available,
            )
        if ctx.session is None:
            return translate(
                language,
                "This conversation keeps no memory; choose the model in the request instead.",
            )
        if arg == "default":
            ctx.session.model = None
            ctx.conversation_changes["model"] = None
            return translate(
                language,
                "Back to the default model: {model}",
                model=catalog.describe(catalog.default or "-"),
            )
        if arg not in catalog.names:
            return translate(
                language,
                "Unknown model '{name}'. Available: {available}",
                name=arg,
                available=available,
            )
        ctx.session.model = arg
        ctx.conversation_changes["model"] = arg
        return translate(language, "This chat now uses {model}.", model=catalog.describe(arg))

    async def _good(self, ctx: TurnContext, _arg: str) -> str:
        return await self._rate(ctx, 1)

    async def _bad(self, ctx: TurnContext, _arg: str) -> str:
        return await self._rate(ctx, -1)

    async def _rate(self, ctx: TurnContext, score: int) -> str:
        session, inbound = ctx.session, ctx.inbound
        answer = last_answer_id(session) if session is not None else None
        rated = await self._feedback.rate(inbound.channel, inbound.user_id, score, answer)
        if rated is None:
            return translate(ctx.language, "There is no answer to rate yet.")
        return translate(ctx.language, "Thanks for the feedback!")

    async def _show_stats(self, _ctx: TurnContext, _arg: str) -> str:
        return self._stats()

    async def _help(self, ctx: TurnContext, _arg: str) -> str:
        language = ctx.language
        lines = [translate(language, "Commands:")]
        lines += [f"{c.usage} — {translate(language, c.help)}" for c in self.table]
        return "\n".join(lines)
