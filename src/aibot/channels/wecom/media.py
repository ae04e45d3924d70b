"""WeCom attachments: `GET /cgi-bin/media/get?access_token=…&media_id=…` (获取临时素材). A
`MediaId` lives three days. Success is the file with its `Content-Type` (voice: AMR 8 kHz,
converted by the media room before transcription); an error is a JSON body (`errcode`) even
with HTTP 200, so the type is checked first. An expired token is fetched anew and retried.
"""

from __future__ import annotations

import aiohttp
import orjson

from aibot.channels.errors import PlatformError
from aibot.channels.wecom.client import TOKEN_INVALID, WecomApi
from aibot.core.media import BlobSink, Fetched, FetchFailed, MediaRefused
from aibot.core.messages import Attachment

CHUNK = 64 * 1024
FILE_TOO_BIG = 830002
BUSY = (-1, 45009, 45033)


class WecomMedia:
    def __init__(self, api: WecomApi) -> None:
        self._api = api
        self._session: aiohttp.ClientSession | None = None

    async def fetch(self, attachment: Attachment, sink: BlobSink) -> Fetched:
        media_id = attachment.ref.get("media_id")
        if not isinstance(media_id, str) or not 0 < len(media_id) <= 256:
            raise MediaRefused("fetch_failed")
        try:
            token = await self._api.token()
        except PlatformError as exc:
            raise FetchFailed(f"access token: {exc}") from None
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession()
        try:
            async with self._session.get(
                self._api.base_url + "media/get",
                params={"access_token": token, "media_id": media_id},
                proxy=self._api.proxy,
            ) as response:
                mime = response.headers.get("Content-Type", "").split(";")[0].strip()
                if response.status != 200 or mime in ("application/json", "text/plain"):
                    await self._refusal(response.status, await response.content.read(65536), token)
                async for chunk in response.content.iter_chunked(CHUNK):
                    await sink.write(chunk)
                return Fetched(mime or attachment.mime, attachment.name)
        except aiohttp.ClientError as exc:
            raise FetchFailed(f"media/get: {type(exc).__name__}") from None

    async def _refusal(self, status: int, body: bytes, token: str) -> None:
        try:
            code = orjson.loads(body).get("errcode")
        except (orjson.JSONDecodeError, AttributeError):
            code = None
        if code in TOKEN_INVALID:
            await self._api.forget_token(token)
            raise FetchFailed(f"media/get: token refused ({code})")
        if code == FILE_TOO_BIG:
            raise MediaRefused("too_big", limit=20 * 1024 * 1024)
        if status >= 500 or code in BUSY:
            raise FetchFailed(f"media/get: HTTP {status}, errcode {code}")
        raise MediaRefused("fetch_failed")  # 40007 invalid (or expired: 3 days) media_id

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
