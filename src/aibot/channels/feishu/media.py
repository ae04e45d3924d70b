"""Feishu/Lark attachments: `GET /open-apis/im/v1/messages/{message_id}/resources/{file_key}`
with `type=image` (pictures, also those inside a post) or `type=file` (files, audio), the
tenant token as Bearer; the bytes stream to the blob store, the type comes in `Content-Type`.

Errors come as JSON with a code: a file over 100 MB (234037) is told as too big, a key or
message that is gone (234003, 230110…) as "send it again"; 5xx and rate limits are retried.
Only the platform's own endpoint is fetched, with ids checked to be plain keys.
"""

from __future__ import annotations

import aiohttp
import orjson

from aibot.channels.errors import PlatformError
from aibot.channels.feishu.client import FeishuApi
from aibot.core.media import BlobSink, Fetched, FetchFailed, MediaRefused
from aibot.core.messages import Attachment

CHUNK = 64 * 1024
FEISHU_LIMIT = 100 * 1024 * 1024
TOO_BIG = 234037
TOKEN_INVALID = (99991663, 99991668)


class FeishuMedia:
    def __init__(self, api: FeishuApi) -> None:
        self._api = api
        self._session: aiohttp.ClientSession | None = None
        self._stale_token = False  # the last answer said the token is invalid: fetch anew

    async def fetch(self, attachment: Attachment, sink: BlobSink) -> Fetched:
        message_id, key = attachment.ref.get("message_id"), attachment.ref.get("file_key")
        kind = "image" if attachment.ref.get("type") == "image" else "file"
        if not (_plain(message_id) and _plain(key)):
            raise MediaRefused("fetch_failed")
        path = f"/open-apis/im/v1/messages/{message_id}/resources/{key}"
        try:
            token = await self._api.tenant_token(force=self._stale_token)
            self._stale_token = False
        except PlatformError as exc:
            raise FetchFailed(f"tenant token: {exc}") from None
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession()
        try:
            async with self._session.get(
                self._api.base_url + path,
                params={"type": kind},
                headers={"Authorization": f"Bearer {token}"},
                proxy=self._api.proxy,
            ) as response:
                mime = response.headers.get("Content-Type", "").split(";")[0].strip()
                if response.status != 200 or mime == "application/json":
                    code = _code(await response.content.read(64 * 1024))
                    self._stale_token = code in TOKEN_INVALID
                    _refusal(response.status, code)
                async for chunk in response.content.iter_chunked(CHUNK):
                    await sink.write(chunk)
                return Fetched(mime or attachment.mime, attachment.name)
        except aiohttp.ClientError as exc:
            raise FetchFailed(f"{path}: {type(exc).__name__}") from None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()


def _code(body: bytes) -> object:
    try:
        return orjson.loads(body).get("code")
    except (orjson.JSONDecodeError, AttributeError):
        return None


def _refusal(status: int, code: object) -> None:
    """Raises what an error answer means for the user: too big, gone, or worth a retry."""
    if code == TOO_BIG:
        raise MediaRefused("too_big", limit=FEISHU_LIMIT)
    if status >= 500 or status == 429 or code in TOKEN_INVALID:
        raise FetchFailed(f"message resource: HTTP {status}, code {code}")
    raise MediaRefused("fetch_failed")


def _plain(value: object) -> bool:
    return (
        isinstance(value, str)
        and 0 < len(value) <= 128
        and all(c.isalnum() or c in "_-" for c in value)
    )
