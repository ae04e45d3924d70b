"""Asking the user before a `confirm: true` tool runs, and taking the answer.

The question goes out through the outbox like any reply; the turn that asked waits (holding its
conversation's lane) until the same user answers `/approve` or `/deny`, or `timeout` passes
(then it is denied). The answer cannot wait in that lane behind the turn that waits for it, so
the inbox hands `/approve` and `/deny` here as soon as they are stored (`answer`), before
queueing them. Channels that hold the caller's connection (the web page, REST) have no way to ask
mid-answer: a tool that needs approval is refused there. Pending questions live in this
process; with several replicas (Redis) each is also put on a shared board
(`core.coordination.ApprovalBoard`), so an answer or a press that reaches another replica
settles it there and the asking turn, which polls the board, goes on. After a restart the
question is gone with its turn; the message is handled again and asks anew, and an answer to
the old question is told that nothing waits and to ask again.

Platforms with buttons (Telegram, Feishu, WeCom; DingTalk in one-to-one chats) send the question
with approve/deny buttons: the question's target carries a random token (`ReplyTarget.approval`),
a button carries it back, and `press` resolves the question exactly as the typed command would,
for the same user only. A press answers with the question's text, so a platform that redraws
the card on a press (Feishu) can show it again without its buttons. DingTalk's buttons type the
command for the user, so its answers arrive as `/approve` and `/deny`.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import TypeVar

import structlog

from aibot.core.commands import parse_command
from aibot.core.coordination import ApprovalBoard
from aibot.core.messages import Inbound, ToolCall
from aibot.core.outbox_rows import OutboxRows
from aibot.core.sessions import Writer
from aibot.core.tools import ToolCaller
from aibot.i18n import N_

log = structlog.get_logger("aibot.tools")

Question = Callable[[str, str, str], str]  # (language, tool, arguments) → the question
T = TypeVar("T")
BOARD_POLL = 0.5  # seconds between looks at the shared board for another replica's answer
BOARD_GRACE = 30.0  # a shared question outlives its timeout by this much, then expires

# What every platform's approve/deny buttons and their answers say.
APPROVE = N_("Approve")
DENY = N_("Deny")
APPROVED = N_("Approved: the tool runs.")
DENIED = N_("Denied: the tool will not run.")
NOT_WAITING = N_("This question is not waiting for your answer.")


@dataclass(slots=True)
class _Pending:
    user_id: str
    channel: str
    token: str
    decision: asyncio.Future[bool]
    question: str


@dataclass(frozen=True, slots=True)
class Decision:
    """What a button press settled: approved or not, and the question it answered."""

    approved: bool
    question: str


def approval_button(approve: bool, token: str) -> str:
    """What an approve/deny button carries (Telegram allows 64 bytes: this is 31)."""
    return f"tool:{1 if approve else 0}:{token}"


def parse_approval_button(data: str) -> tuple[bool, str] | None:
    kind, _, rest = data.partition(":")
    choice, _, token = rest.partition(":")
    if kind != "tool" or choice not in ("1", "0") or not token or len(token) > 64:
        return None
    return choice == "1", token


class Approvals:
    def __init__(
        self,
        store: OutboxRows,
        writer: Writer,
        on_reply: Callable[[], None],
        clock: Callable[[], float],
        question: Question,
        *,
        timeout: float = 120.0,
        board: ApprovalBoard | None = None,
    ) -> None:
        self._store = store
        self._writer = writer
        self._on_reply = on_reply
        self._clock = clock
        self._question = question
        self.timeout = timeout
        self.board = board
        self._pending: dict[str, _Pending] = {}

    async def ask(self, call: ToolCall, caller: ToolCaller) -> bool:
        if caller.target is None or caller.session_key in self._pending:
            return False  # no way to ask on this channel (or a question is already open)
        decision: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        token = secrets.token_urlsafe(18)
        text = self._question(caller.language, call.name, call.arguments[:300])
        self._pending[caller.session_key] = _Pending(
            caller.user_id, caller.channel, token, decision, text
        )
        target = replace(caller.target, request_id=None, approval=token)
        try:
            await self._open(caller, token, text)
            await self._writer.submit(
                self._store.enqueue_outbox(
                    None, caller.channel, caller.session_key, target, text, self._clock()
                )
            )
            self._on_reply()
            return await self._decided(decision, token)
        except TimeoutError:
            return False
        finally:
            self._pending.pop(caller.session_key, None)
            await self._close(caller.session_key, token)

    async def _decided(self, decision: asyncio.Future[bool], token: str) -> bool:
        """The answer given here, or (with replicas) one another replica wrote to the board."""
        if self.board is None:
            return await asyncio.wait_for(asyncio.shield(decision), self.timeout)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout
        while not decision.done():
            left = deadline - loop.time()
            if left <= 0:
                raise TimeoutError
            await asyncio.wait({decision}, timeout=min(BOARD_POLL, left))
            if not decision.done():
                remote = await self._board_call(self.board.decision(token))
                if remote is not None:
                    return bool(remote)
        return decision.result()

    async def _open(self, caller: ToolCaller, token: str, text: str) -> None:
        if self.board is not None:
            await self._board_call(
                self.board.open(
                    caller.session_key,
                    token,
                    caller.user_id,
                    caller.channel,
                    text,
                    self.timeout + BOARD_GRACE,
                )
            )

    async def _close(self, session_key: str, token: str) -> None:
        if self.board is not None:
            await self._board_call(self.board.close(session_key, token))

    async def _board_call(self, call: Awaitable[T]) -> T | None:
        """The board is a convenience across replicas: when it fails, a question is still
        answered where it was asked (and times out elsewhere), never lost in an error."""
        try:
            return await call
        except Exception as exc:
            log.warning("shared tool questions unavailable", error=repr(exc)[:200])
            return None

    async def answer(self, inbound: Inbound) -> bool:
        """Takes `/approve` or `/deny` from the user a question waits on (here, or on another
        replica through the board); False otherwise (the message then goes its ordinary way,
        and the command says nothing is waiting)."""
        parsed = parse_command(inbound.text)
        if parsed is None or parsed[0] not in ("approve", "deny"):
            return False
        approve = parsed[0] == "approve"
        pending = self._pending.get(inbound.session_key)
        if pending is None and self.board is not None:
            settled = await self._board_call(
                self.board.settle(
                    channel=inbound.channel,
                    user_id=inbound.user_id,
                    approve=approve,
                    session_key=inbound.session_key,
                )
            )
            return settled is not None
        if pending is None or pending.user_id != inbound.user_id or pending.decision.done():
            return False
        pending.decision.set_result(approve)
        log.info("tool call answered", session=inbound.session_key, approved=approve)
        return True

    async def press(self, channel: str, user_id: str, data: str) -> Decision | None:
        """A platform button's answer: the decision when it settled a waiting question of this
        user (here, or on another replica through the board); None for a stale press (a second
        one, a question timed out or asked before a restart), another user's or a forged one."""
        parsed = parse_approval_button(data)
        if parsed is None:
            return None
        approve, token = parsed
        for session, pending in self._pending.items():
            if secrets.compare_digest(pending.token, token):
                if (
                    pending.channel != channel
                    or pending.user_id != user_id
                    or pending.decision.done()
                ):
                    return None
                pending.decision.set_result(approve)
                log.info("tool call answered by button", session=session, approved=approve)
                return Decision(approve, pending.question)
        if self.board is None:
            return None
        question = await self._board_call(
            self.board.settle(channel=channel, user_id=user_id, approve=approve, token=token)
        )
        return None if question is None else Decision(approve, question)
