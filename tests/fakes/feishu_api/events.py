"""Events pushed to the gateway: user messages, URL verification and card presses, re-delivered."""

from __future__ import annotations

import asyncio
import secrets
import time

import aiohttp
import orjson

from aibot.channels.feishu.verify import encrypt, signature
from tests.fakes.feishu_api.content import _check_card
from tests.fakes.feishu_api.protocol import JSON
from tests.fakes.feishu_api.records import Delivery, Message
from tests.fakes.feishu_api.tenant import _Tenant


class _Events(_Tenant):
    """Builds, signs, encrypts and POSTs event envelopes to ``webhook_url``."""

    # -- events -----------------------------------------------------------------------------
    def user_message(
        self,
        chat_id: str,
        text: str = "",
        *,
        chat_type: str = "p2p",
        user: str = "ou_user1",
        mentions: list[tuple[str, str]] | None = None,
        message_type: str = "text",
        content: JSON | None = None,
        thread_id: str | None = None,
        push: bool = True,
    ) -> JSON:
        """A user writes in `chat_id`; the event is pushed (and re-pushed) to `webhook_url`
        unless `push` is False (the message is then only known, e.g. to be replied to).

        `mentions` are (open_id, name) pairs, referred to in `text` as @_user_1, @_user_2, ….
        """
        message_id = f"om_{secrets.token_hex(16)}"
        body = content if content is not None else {"text": text}
        self.messages[message_id] = Message(message_id, chat_id, message_type, body, user)
        message: JSON = {
            "message_id": message_id,
            "create_time": str(int(time.time() * 1000)),
            "update_time": str(int(time.time() * 1000)),
            "chat_id": chat_id,
            "chat_type": chat_type,
            "message_type": message_type,
            "content": orjson.dumps(body).decode(),
            "mentions": [
                {
                    "key": f"@_user_{n}",
                    "id": {"union_id": f"on_{oid}", "user_id": "", "open_id": oid},
                    "name": name,
                    "tenant_key": "tk_test",
                }
                for n, (oid, name) in enumerate(mentions or [], 1)
            ],
        }
        if thread_id:
            message["thread_id"] = thread_id
        event = {
            "sender": {
                "sender_id": {"union_id": f"on_{user}", "user_id": "", "open_id": user},
                "sender_type": "user",
                "tenant_key": "tk_test",
            },
            "message": message,
        }
        envelope = self.envelope(event)
        if push:
            self.push(envelope)
        return envelope

    def envelope(self, event: JSON, event_type: str = "im.message.receive_v1") -> JSON:
        return {
            "schema": "2.0",
            "header": {
                "event_id": secrets.token_hex(16),
                "event_type": event_type,
                "create_time": str(int(time.time() * 1000)),
                "token": self.verification_token,
                "app_id": self.app_id,
                "tenant_key": "tk_test",
            },
            "event": event,
        }

    def resend(self, envelope: JSON) -> JSON:
        """Feishu sometimes pushes one message again under a new event_id."""
        again = {**envelope, "header": {**envelope["header"], "event_id": secrets.token_hex(16)}}
        self.push(again)
        return again

    def push(self, envelope: JSON) -> None:
        task = asyncio.create_task(self._deliver(envelope))
        self._pushes.add(task)
        task.add_done_callback(self._pushes.discard)

    def signed_request(
        self, payload: JSON, *, timestamp: float | None = None, sign: bool = True
    ) -> tuple[bytes, dict[str, str]]:
        """The body and headers Feishu would POST for `payload`."""
        plain = orjson.dumps(payload)
        headers = {"Content-Type": "application/json"}
        if not self.encrypt_key:
            return plain, headers
        body = orjson.dumps({"encrypt": encrypt(self.encrypt_key, plain)})
        if sign:
            stamp, nonce = (
                str(int(time.time() if timestamp is None else timestamp)),
                secrets.token_hex(8),
            )
            headers.update(
                {
                    "X-Lark-Request-Timestamp": stamp,
                    "X-Lark-Request-Nonce": nonce,
                    "X-Lark-Signature": signature(stamp, nonce, self.encrypt_key, body),
                }
            )
        return body, headers

    async def url_verification(self, challenge: str = "ch-1") -> tuple[int, bytes]:
        """The console's "save request URL" check: the challenge must come back within 1 s."""
        assert self.webhook_url
        body, headers = self.signed_request(
            {"challenge": challenge, "token": self.verification_token, "type": "url_verification"},
            sign=False,
        )
        async with (
            aiohttp.ClientSession() as http,
            http.post(
                self.webhook_url,
                data=body,
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=1),
            ) as response,
        ):
            return response.status, await response.read()

    def card_action_event(self, message_id: str, value: JSON, user: str = "ou_user1") -> JSON:
        """The `card.action.trigger` envelope of a user pressing the card button carrying
        callback `value` (it must be on the card)."""
        message = self.messages[message_id]
        if value not in message.buttons:
            raise ValueError(f"card {message_id} has no button with value {value!r}")
        return self.envelope(
            {
                "operator": {"open_id": user, "union_id": f"on_{user}", "tenant_key": "tk_test"},
                "token": secrets.token_hex(8),
                "host": "im_message",
                "delivery_type": "",
                "action": {"tag": "button", "value": value},
                "context": {"open_message_id": message_id, "open_chat_id": message.chat_id},
            },
            "card.action.trigger",
        )

    async def card_action(self, message_id: str, value: JSON, user: str = "ou_user1") -> JSON:
        """Feishu POSTs the press once and shows what comes back within 3 s."""
        return await self.post_card_action(self.card_action_event(message_id, value, user))

    async def post_card_action(self, envelope: JSON) -> JSON:
        """POSTs a press built earlier (`card_action_event`: a client still showing the card as
        it was, say). What comes back is shown: the toast, and a `raw` card replaces the
        pressed card's content (it must be a valid card: Feishu shows an error otherwise)."""
        assert self.webhook_url
        body, headers = self.signed_request(envelope)
        async with (
            aiohttp.ClientSession() as http,
            http.post(
                self.webhook_url,
                data=body,
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=self.deadline),
            ) as response,
        ):
            answer: JSON = await response.json(content_type=None)
        card = answer.get("card")
        if isinstance(card, dict) and card.get("type") == "raw":
            _check_card(card["data"])
            message = self.messages[envelope["event"]["context"]["open_message_id"]]
            message.content = card["data"]
            self.card_updates.append(message.message_id)
        return answer

    async def _deliver(self, envelope: JSON) -> None:
        assert self.webhook_url, "set webhook_url before pushing events"
        message_id = envelope["event"].get("message", {}).get("message_id", "")
        for attempt, pause in enumerate((0.0, *self.retry_schedule)):
            await asyncio.sleep(pause)
            body, headers = self.signed_request(envelope)
            started = time.monotonic()
            status: int | None
            try:
                async with (
                    aiohttp.ClientSession() as http,
                    http.post(
                        self.webhook_url,
                        data=body,
                        headers=headers,
                        timeout=aiohttp.ClientTimeout(total=self.deadline),
                    ) as response,
                ):
                    status = response.status
            except (TimeoutError, aiohttp.ClientError):
                status = None
            self.deliveries.append(
                Delivery(
                    envelope["header"]["event_id"],
                    message_id,
                    attempt,
                    status,
                    time.monotonic() - started,
                )
            )
            if status == 200:
                return
