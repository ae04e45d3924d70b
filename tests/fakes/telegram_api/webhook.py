"""Webhook mode: setWebhook/deleteWebhook/getWebhookInfo and sequential delivery with retries."""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

import aiohttp
import orjson

from tests.fakes.telegram_api.core import Handler
from tests.fakes.telegram_api.params import _safe_coerce, _WithDescription
from tests.fakes.telegram_api.protocol import (
    BAD_MAX_CONNECTIONS,
    JSON,
    LOOPBACK_HOSTS,
    SECRET_BAD_CHARS,
    SECRET_TOKEN_RE,
    SECRET_TOO_LONG,
    WEBHOOK_BAD_PORT,
    WEBHOOK_NEEDS_HTTPS,
    WEBHOOK_PORTS,
    ApiError,
    _phrase,
)
from tests.fakes.telegram_api.records import ApiCall, Delivery, _Webhook
from tests.fakes.telegram_api.updates import _UpdateQueue


class _WebhookDelivery(_UpdateQueue):
    """Pushes queued updates to the webhook one at a time, re-delivering until a 2xx."""

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        """Listen (see ``_Core.start``), then start the deliverer that pushes to a set webhook."""
        await super().start(host, port)
        self._http = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=self.webhook_timeout)
        )
        self._deliverer = asyncio.create_task(self._deliver_forever())

    async def stop(self) -> None:
        """Stop delivering, answer waiting long polls, close the listener."""
        self._closing = True
        self._notify()
        if self._deliverer is not None:
            self._deliverer.cancel()
            await asyncio.gather(self._deliverer, return_exceptions=True)
            self._deliverer = None
        if self._http is not None:
            await self._http.close()
            self._http = None
        await super().stop()

    def _set_webhook(self, params: JSON) -> _WithDescription:
        url = str(params.get("url") or "")
        if not url:
            return self._delete_webhook(params)
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ApiError(400, WEBHOOK_NEEDS_HTTPS)
        if self.strict_webhook_url:
            if parts.scheme != "https":
                raise ApiError(400, WEBHOOK_NEEDS_HTTPS)
            if (parts.port or 443) not in WEBHOOK_PORTS:
                raise ApiError(400, WEBHOOK_BAD_PORT)
        secret = params.get("secret_token")
        if secret:
            secret = str(secret)
            if not SECRET_TOKEN_RE.fullmatch(secret):
                raise ApiError(400, SECRET_BAD_CHARS)
            if len(secret) > 256:
                raise ApiError(400, SECRET_TOO_LONG)
        max_connections = int(params.get("max_connections") or 40)
        if not 1 <= max_connections <= 100:
            raise ApiError(400, BAD_MAX_CONNECTIONS)
        same = (
            url == self._webhook.url
            and (secret or None) == self._webhook.secret_token
            and max_connections == self._webhook.max_connections
        )
        if params.get("drop_pending_updates"):
            self._updates.clear()
        if params.get("allowed_updates") is not None:
            self._allowed_updates = list(params["allowed_updates"])
        hook = self._webhook
        hook.url, hook.secret_token, hook.max_connections = url, secret or None, max_connections
        hook.ip_address = params.get("ip_address") or (
            "127.0.0.1" if parts.hostname in LOOPBACK_HOSTS else "149.154.167.220"
        )
        self._poller = None  # a waiting long poll ends with "terminated by setWebhook request"
        self._notify()
        return _WithDescription(True, "Webhook is already set" if same else "Webhook was set")

    def _delete_webhook(self, params: JSON) -> _WithDescription:
        had = bool(self._webhook.url)
        if params.get("drop_pending_updates"):
            self._updates.clear()
        self._webhook = _Webhook(
            last_error_date=self._webhook.last_error_date,
            last_error_message=self._webhook.last_error_message,
        )
        self._notify()
        return _WithDescription(
            True, "Webhook was deleted" if had else "Webhook is already deleted"
        )

    def _get_webhook_info(self, params: JSON) -> JSON:
        hook = self._webhook
        info: JSON = {
            "url": hook.url,
            "has_custom_certificate": False,
            "pending_update_count": len(self._updates),
        }
        if hook.url:
            info["max_connections"] = hook.max_connections
            info["ip_address"] = hook.ip_address
            if self._allowed_updates:
                info["allowed_updates"] = list(self._allowed_updates)
        if hook.last_error_date is not None:
            info["last_error_date"] = hook.last_error_date
            info["last_error_message"] = hook.last_error_message
        return info

    # -- webhook delivery

    async def _deliver_forever(self) -> None:
        """Push queued updates to the webhook one at a time, re-delivering until a 2xx."""
        while not self._closing:
            hook = self._webhook
            batch = self._deliverable(1) if hook.url else []
            if not batch:
                await self._wait_change(None)
                continue
            update = batch[0]
            update_id = update["update_id"]
            attempt = hook.attempts.get(update_id, 0) + 1
            hook.attempts[update_id] = attempt
            status, error = await self._post_update(hook, update)
            self.deliveries.append(
                Delivery(
                    update_id,
                    attempt,
                    hook.url,
                    hook.secret_token,
                    status,
                    error,
                    asyncio.get_running_loop().time(),
                )
            )
            if status is not None and 200 <= status < 300:
                self._forget(update_id)
            else:
                hook.last_error_date = int(self.clock())
                hook.last_error_message = error
                if attempt > len(self.webhook_retry_delays):
                    self.dropped_updates.append(update)
                    self._forget(update_id)
                else:
                    self._notify()
                    await asyncio.sleep(self.webhook_retry_delays[attempt - 1])
            self._notify()

    def _forget(self, update_id: int) -> None:
        self._updates = [u for u in self._updates if u["update_id"] != update_id]
        self._webhook.attempts.pop(update_id, None)

    async def _post_update(self, hook: _Webhook, update: JSON) -> tuple[int | None, str | None]:
        if urlsplit(hook.url).hostname not in LOOPBACK_HOSTS:
            return None, "Connection refused"  # the fake never leaves loopback
        headers = {"Content-Type": "application/json"}
        if hook.secret_token:
            headers["X-Telegram-Bot-Api-Secret-Token"] = hook.secret_token
        assert self._http is not None
        try:
            async with self._http.post(
                hook.url, data=orjson.dumps(update), headers=headers
            ) as response:
                body = await response.read()
                status = response.status
        except TimeoutError:
            return None, "Read timeout expired"
        except aiohttp.ClientConnectorError:
            return None, "Connection refused"
        except aiohttp.ClientError as exc:
            return None, f"Connection error: {exc.__class__.__name__}"
        if not 200 <= status < 300:
            return status, f"Wrong response from the webhook: {status} {_phrase(status)}"
        await self._webhook_reply(body)
        return status, None

    async def _webhook_reply(self, body: bytes) -> None:
        """A 2xx body may carry one method call (``{"method": ...}``); Telegram runs it."""
        try:
            payload = orjson.loads(body) if body else None
        except orjson.JSONDecodeError:
            return
        if not isinstance(payload, dict) or not isinstance(payload.get("method"), str):
            return
        params = {k: _safe_coerce(k, v) for k, v in payload.items() if k != "method"}
        method = payload["method"]
        call = ApiCall(
            method, params, "WEBHOOK-REPLY", "application/json", asyncio.get_running_loop().time()
        )
        self.requests.append(call)
        entry = self._handlers.get(method.lower())
        if entry is None:
            call.status = 404
            return
        try:
            call.response = await self._call(entry[1], params)
            call.status = 200
        except ApiError as exc:
            call.status, call.response = exc.error_code, exc.description

    def _served_methods(self) -> list[tuple[str, Handler]]:
        return [
            *super()._served_methods(),
            ("setWebhook", self._set_webhook),
            ("deleteWebhook", self._delete_webhook),
            ("getWebhookInfo", self._get_webhook_info),
        ]
