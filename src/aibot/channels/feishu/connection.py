"""Long-connection mode: lark-oapi's WebSocket client in its own thread and event loop.

Its framing is private, so the official client is used, but only here: `lark_oapi` is imported
(about 14 s on a small server) inside the thread when this mode starts, never by the gateway's
import. The SDK calls our handler synchronously and answers Feishu when it returns, so the
handler hands the event to the gateway's loop and waits only for the inbox commit (bounded
below Feishu's 3 s); raising makes the SDK answer 500 and Feishu re-send.

Card presses (`card.action.trigger`, when the app's callbacks are set to the long connection)
arrive as event frames too; the SDK's callback processor hands them here and sends back what
the channel answers (the toast and a redrawn card) in the frame's response, as in webhook
mode. (Legacy card callbacks come as `card` frames, which lark-oapi 1.7 drops unanswered.)
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import threading
from collections.abc import Callable, Coroutine
from typing import Any

import structlog

from aibot.channels.base import Problem
from aibot.channels.feishu.inbound import RECEIVE
from aibot.config import FeishuChannelConfig
from aibot.i18n import N_

log = structlog.get_logger("aibot.feishu")

INSTALL_HINT = Problem(N_("lark-oapi is not installed: pip install 'ai-bot[feishu-ws]'"))
COMMIT_WITHIN = 2.5  # seconds; Feishu re-sends after 3

Deliver = Callable[[dict[str, Any]], Coroutine[Any, Any, None]]
CardAction = Callable[[dict[str, Any]], Coroutine[Any, Any, dict[str, Any]]]


class EventBridge:
    """The SDK-side handler: runs on the SDK's thread, commits on the gateway's loop."""

    def __init__(
        self,
        deliver: Deliver,
        loop: asyncio.AbstractEventLoop,
        card_action: CardAction | None = None,
    ) -> None:
        self._deliver = deliver
        self._loop = loop
        self._card_action = card_action

    def __call__(self, data: Any) -> None:
        header = data.header
        payload = {
            "schema": "2.0",
            "header": {"event_id": header.event_id, "event_type": header.event_type},
            "event": data.event,
        }
        asyncio.run_coroutine_threadsafe(self._deliver(payload), self._loop).result(COMMIT_WITHIN)

    def press(self, data: Any) -> dict[str, Any]:
        """A card press (the SDK's typed `P2CardActionTrigger`) answered by the channel, on the
        gateway's loop, within Feishu's 3 s."""
        assert self._card_action is not None
        event = data.event
        operator, action = event.operator, event.action
        payload = {
            "event": {
                "operator": {"open_id": operator.open_id if operator else None},
                "action": {"value": action.value if action else None},
            }
        }
        future = asyncio.run_coroutine_threadsafe(self._card_action(payload), self._loop)
        return future.result(COMMIT_WITHIN)

    def handler(self) -> Any:
        """The SDK dispatcher routing `im.message.receive_v1` (raw dict) and card presses to
        this bridge."""
        import lark_oapi  # type: ignore[import-untyped]

        builder = lark_oapi.EventDispatcherHandler.builder("", "").register_p2_customized_event(
            RECEIVE, self
        )
        if self._card_action is not None:
            builder = builder.register_p2_card_action_trigger(self.press)
        return builder.build()


class LongConnection:
    def __init__(
        self,
        config: FeishuChannelConfig,
        deliver: Deliver,
        loop: asyncio.AbstractEventLoop,
        card_action: CardAction | None = None,
    ) -> None:
        self._config = config
        self._bridge = EventBridge(deliver, loop, card_action)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self.error: Problem | None = None

    def start(self) -> None:
        if importlib.util.find_spec("lark_oapi") is None:
            self.error = INSTALL_HINT
            log.error("feishu long connection unavailable", error=str(INSTALL_HINT))
            return
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name="feishu-ws", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._loop is not None:
            with contextlib.suppress(RuntimeError):  # already closed: the client had failed
                self._loop.call_soon_threadsafe(self._loop.stop)

    def _run(self) -> None:
        assert self._loop is not None
        asyncio.set_event_loop(self._loop)
        try:
            import lark_oapi
            from lark_oapi.ws import client as ws_client  # type: ignore[import-untyped]

            # The SDK keeps one module-global loop, captured at import time; give it ours.
            ws_client.loop = self._loop
            client = ws_client.Client(
                self._config.app_id,
                self._config.app_secret.get_secret_value(),
                event_handler=self._bridge.handler(),
                domain=self._config.base_url,
                log_level=lark_oapi.LogLevel.WARNING,
            )
            client.on_reconnecting = self._down
            client.on_reconnected = self._up
            client.start()
        except RuntimeError as exc:
            if "stopped before" not in str(exc):  # our stop(), not a failure
                self._failed(exc)
        except Exception as exc:
            self._failed(exc)
        finally:
            self._close_loop()

    def _close_loop(self) -> None:
        """Cancels what the SDK left on its loop (a cache cron, pings), then closes it."""
        assert self._loop is not None
        pending = asyncio.all_tasks(self._loop)
        for task in pending:
            task.cancel()
        self._loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        self._loop.close()

    def _down(self) -> None:
        self.error = Problem(
            N_(
                "long connection down; lark-oapi keeps reconnecting (its log says why: "
                "network, or events not set to long connection in the console)"
            )
        )
        log.warning("feishu long connection down")

    def _up(self) -> None:
        self.error = None
        log.info("feishu long connection back")

    def _failed(self, exc: Exception) -> None:
        self.error = Problem(
            N_(
                "long connection failed: {error} (check channels.feishu.app_id / "
                "app_secret and that the app subscribes to events by long connection)"
            ),
            {"error": repr(exc)},
        )
        log.error("feishu long connection failed", error=str(self.error))
