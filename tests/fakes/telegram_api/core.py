"""The fake's HTTP server: options, state, lifecycle, method dispatch and scripted failures."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import time
from collections import deque
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Any, Self

import aiohttp
import orjson
from aiohttp import web

from tests.fakes.loopback import LoopbackServer
from tests.fakes.telegram_api.params import _error, _ok, _read_params, _WithDescription
from tests.fakes.telegram_api.protocol import (
    JSON,
    NOT_FOUND,
    TOKEN_FORMAT_RE,
    UNAUTHORIZED,
    ApiError,
    _default_description,
)
from tests.fakes.telegram_api.records import ApiCall, ChatAction, Delivery, _Webhook
from tests.fakes.telegram_api.scripting import Action, Drop, Fail, Hang
from tests.fakes.telegram_files import TelegramFiles

Handler = Callable[[JSON], Any]


class _Core:
    """Serves ``/bot<token>/<method>``; each layer above adds the methods it implements."""

    def __init__(
        self,
        token: str = "123456:TEST-TOKEN",  # noqa: S107 - a fake's default
        *,
        username: str = "gw_test_bot",
        bot_id: int | None = None,
        first_name: str = "Gateway Test Bot",
        can_join_groups: bool = True,
        can_read_all_group_messages: bool = False,
        webhook_retry_delays: Sequence[float] = (0.05, 0.1, 0.2),
        webhook_timeout: float = 5.0,
        strict_webhook_url: bool = False,
        strict_chats: bool = False,
        max_text_length: int = 4096,
        count_utf16: bool = True,
        drafts: bool = True,
        clock: Callable[[], float] = time.time,
        first_update_id: int = 100_000_001,
    ) -> None:
        self.token = token
        self.username = username
        self.bot_id = bot_id if bot_id is not None else int(token.split(":", 1)[0] or 0)
        self.first_name = first_name
        self.can_join_groups = can_join_groups
        self.can_read_all_group_messages = can_read_all_group_messages
        self.webhook_retry_delays = tuple(webhook_retry_delays)
        self.webhook_timeout = webhook_timeout
        self.strict_webhook_url = strict_webhook_url
        self.strict_chats = strict_chats
        self.max_text_length = max_text_length
        self.count_utf16 = count_utf16
        self.drafts_enabled = drafts
        self.clock = clock

        # What tests read.
        self.requests: list[ApiCall] = []
        self.sent: list[JSON] = []  # Message objects the bot sent, as sent
        self.edits: list[JSON] = []  # Message objects after each successful edit
        self.deleted: list[tuple[int | str, int]] = []
        self.chat_actions: list[ChatAction] = []
        self.drafts: list[JSON] = []
        self.deliveries: list[Delivery] = []
        self.dropped_updates: list[JSON] = []  # given up after the last webhook retry
        self.commands: list[JSON] = []
        self.callback_answers: list[JSON] = []  # answerCallbackQuery calls, as made
        # State tests may set directly.
        self.blocked_chats: set[int] = set()  # sends answer 403 "bot was blocked by the user"
        self.migrated_chats: dict[int, int] = {}  # old group id -> supergroup id

        self._updates: list[JSON] = []
        self._next_update_id = first_update_id
        self._allowed_updates: list[str] | None = None
        self._webhook = _Webhook()
        self._poller: object | None = None
        self._chats: dict[int, JSON] = {}
        self._topics: dict[int, set[int]] = {}
        self._messages: dict[tuple[int, int], JSON] = {}
        self._open_queries: dict[str, float] = {}  # callback query id -> when it was pressed
        self._next_message_id: dict[int, int] = {}
        self._script: dict[str, deque[Action]] = {}
        self._handlers: dict[str, tuple[str, Handler]] = {}
        self._changed = asyncio.Event()
        self._closing = False
        self._server = LoopbackServer()
        self._http: aiohttp.ClientSession | None = None
        self._deliverer: asyncio.Task[None] | None = None
        self._base_url: str | None = None
        self.files = TelegramFiles(self, ApiError)

        for name, handler in self._served_methods():
            self.register(name, handler)

    def _served_methods(self) -> list[tuple[str, Handler]]:
        return [("getFile", self.files.get_file)]

    # -- lifecycle

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        """Listen on ``host:port`` (0 picks a free port; see ``base_url``)."""
        app = web.Application(client_max_size=8 * 1024 * 1024)
        app.router.add_route("GET", "/bot{token}/{method:.*}", self._handle)
        app.router.add_route("POST", "/bot{token}/{method:.*}", self._handle)
        app.router.add_get("/file/bot{token}/{path:.*}", self.files.download)
        self._base_url = await self._server.start(app, host, port)

    async def stop(self) -> None:
        """Close the listener."""
        await self._server.stop()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT``: a client's ``api_base`` (it appends ``/bot<token>/…``).

        PTB wants ``Bot(token, base_url=f"{fake.base_url}/bot")`` (it appends the token).
        """
        if self._base_url is None:
            raise RuntimeError("FakeTelegram is not started")
        return self._base_url

    @property
    def bot_url(self) -> str:
        """``http://127.0.0.1:PORT/bot<token>``; a method's URL is ``f"{bot_url}/sendMessage"``."""
        return f"{self.base_url}/bot{self.token}"

    @property
    def bot_user(self) -> JSON:
        """The bot as a ``User`` object (``from`` of its messages)."""
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": self.first_name,
            "username": self.username,
        }

    # -- test controls: script and custom methods

    def script(self, method: str, *actions: Action | int) -> None:
        """Make the next calls of ``method`` (case-insensitive) fail/hang/drop, one per call.

        An int is shorthand for Telegram's usual error for that code (``Fail.of``).
        """
        queue = self._script.setdefault(method.lower(), deque())
        queue.extend(Fail.of(a) if isinstance(a, int) else a for a in actions)

    def register(self, method: str, handler: Handler) -> None:
        """Serve ``method`` with ``handler(params) -> result`` (sync or async; raise ApiError)."""
        self._handlers[method.lower()] = (method, handler)

    # -- plumbing

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def _wait_change(self, timeout: float | None) -> None:
        event = self._changed
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), timeout)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        token, method = request.match_info["token"], request.match_info["method"]
        params: JSON = {}
        bad_body: ApiError | None = None
        try:
            params = await _read_params(request)
        except ApiError as exc:
            bad_body = exc
        call = ApiCall(
            method, params, request.method, request.content_type, asyncio.get_running_loop().time()
        )
        self.requests.append(call)
        try:
            response = await self._answer(token, method, params, bad_body, request)
        finally:
            self._notify()
        if response is None:  # Drop
            if request.transport is not None:
                request.transport.close()
            return web.Response()
        call.status = response.status
        if isinstance(response, web.Response) and response.body is not None:
            try:
                call.response = orjson.loads(response.body)  # type: ignore[arg-type]
            except orjson.JSONDecodeError:
                call.response = response.body
        return response

    async def _answer(
        self, token: str, method: str, params: JSON, bad_body: ApiError | None, request: web.Request
    ) -> web.Response | None:
        if not TOKEN_FORMAT_RE.fullmatch(token):
            return _error(404, NOT_FOUND)
        if token != self.token:
            return _error(401, UNAUTHORIZED)
        entry = self._handlers.get(method.lower())
        if entry is None or (method.lower() == "sendmessagedraft" and not self.drafts_enabled):
            return _error(404, NOT_FOUND)
        queue = self._script.get(method.lower())
        action = queue.popleft() if queue else None
        if isinstance(action, Drop):
            return None
        if isinstance(action, Hang):
            await asyncio.sleep(action.seconds)
        elif isinstance(action, Fail):
            if action.body is not None:
                return web.Response(
                    status=action.error_code, body=action.body, content_type=action.content_type
                )
            description = action.description or _default_description(action.error_code)
            return _error(action.error_code, description, action.parameters)
        try:
            if bad_body is not None:
                raise bad_body
            result = await self._call(entry[1], params)
        except ApiError as exc:
            return _error(exc.error_code, exc.description, exc.parameters)
        if isinstance(result, _WithDescription):
            return _ok(result.result, result.description)
        return _ok(result)

    async def _call(self, handler: Handler, params: JSON) -> Any:
        result = handler(params)
        if inspect.isawaitable(result):
            result = await result
        return result
