"""DingTalk attachments: `POST /v1.0/robot/messageFiles/download` with the access token and
`{"downloadCode", "robotCode"}` answers a short-lived `downloadUrl`, fetched at once without
the token (PROTOCOLS-media-vendors-mcp §M.4).

The link comes from DingTalk's API, never from the message: it must be HTTPS (or on the API's
own host, for a proxy or a test double); the bytes stream to the blob store.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import aiohttp

from aibot.channels.dingtalk.client import DingtalkApi
from aibot.channels.errors import PlatformError
from aibot.core.media import BlobSink, Fetched, FetchFailed, MediaRefused
from aibot.core.messages import Attachment
from aibot.ops.proxy import proxy_for

DOWNLOAD_PATH = "/v1.0/robot/messageFiles/download"
CHUNK = 64 * 1024


class DingtalkMedia:
    def __init__(self, api: DingtalkApi, robot_code: str) -> None:
        self._api = api
        self._robot_code = robot_code
        self._session: aiohttp.ClientSession | None = None

    async def fetch(self, attachment: Attachment, sink: BlobSink) -> Fetched:
        code = attachment.ref.get("download_code")
        if not isinstance(code, str) or not 0 < len(code) <= 1024:
            raise MediaRefused("fetch_failed")
        try:
            answer = await self._api.call(
                DOWNLOAD_PATH, {"downloadCode": code, "robotCode": self._robot_code}
            )
        except PlatformError as exc:
            if exc.permanent:
                raise MediaRefused("fetch_failed") from None
            raise FetchFailed(f"messageFiles/download: {exc}") from None
        url = answer.get("downloadUrl") if isinstance(answer, dict) else None
        if not isinstance(url, str) or not self._trusted(url):
            raise MediaRefused("fetch_failed")
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession()
        try:
            async with self._session.get(url, proxy=proxy_for(url)) as response:
                if response.status >= 500 or response.status == 429:
                    raise FetchFailed(f"file download: HTTP {response.status}")
                if response.status != 200:
                    raise MediaRefused("fetch_failed")  # the link expired: ask to resend
                async for chunk in response.content.iter_chunked(CHUNK):
                    await sink.write(chunk)
                mime = response.headers.get("Content-Type", "").split(";")[0].strip()
                return Fetched(mime or attachment.mime, attachment.name)
        except aiohttp.ClientError as exc:
            raise FetchFailed(f"file download: {type(exc).__name__}") from None

    def _trusted(self, url: str) -> bool:
        parts, own = urlsplit(url), urlsplit(self._api.base_url)
        if parts.scheme == "https" and parts.hostname:
            return True
        return (parts.scheme, parts.netloc) == (own.scheme, own.netloc)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
