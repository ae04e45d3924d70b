"""Telegram attachments: `getFile` turns the message's `file_id` into a `file_path`, which is
downloaded from `{api_base}/file/bot<token>/<file_path>` and streamed to the blob store.

Only Telegram's own endpoint is fetched; the URL holds the bot token, so it is never logged.
Files over 20 MB fail at `getFile` ("file is too big", the cloud Bot API's limit): the user is
told the limit instead of being retried.
"""

from __future__ import annotations

import aiohttp

from aibot.channels.errors import PlatformError
from aibot.channels.telegram.client import TelegramApi
from aibot.core.media import BlobSink, Fetched, FetchFailed, MediaRefused
from aibot.core.messages import Attachment

CHUNK = 64 * 1024
TELEGRAM_DOWNLOAD_LIMIT = 20_000_000  # FileSizeLimit.FILESIZE_DOWNLOAD (PTB constants)


class TelegramMedia:
    def __init__(self, api: TelegramApi) -> None:
        self._api = api
        self._session: aiohttp.ClientSession | None = None

    async def fetch(self, attachment: Attachment, sink: BlobSink) -> Fetched:
        file_id = attachment.ref.get("file_id")
        if not isinstance(file_id, str) or not file_id:
            raise MediaRefused("fetch_failed")
        try:
            found = await self._api.call("getFile", file_id=file_id)
        except PlatformError as exc:
            if "too big" in str(exc):
                raise MediaRefused("too_big", limit=TELEGRAM_DOWNLOAD_LIMIT) from None
            if exc.permanent:
                raise MediaRefused("fetch_failed") from None
            raise FetchFailed(f"getFile: {exc}") from None
        path = found.get("file_path") if isinstance(found, dict) else None
        if not isinstance(path, str) or not _plain_path(path):
            raise MediaRefused("fetch_failed")
        await self._download(path, sink)
        return Fetched(attachment.mime, attachment.name)

    async def _download(self, path: str, sink: BlobSink) -> None:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession()
        try:
            async with self._session.get(self._api.file_base + path, proxy=self._api.proxy) as got:
                if got.status >= 500 or got.status == 429:
                    raise FetchFailed(f"file download: HTTP {got.status}")
                if got.status != 200:
                    raise MediaRefused("fetch_failed")
                async for chunk in got.content.iter_chunked(CHUNK):
                    await sink.write(chunk)
        except aiohttp.ClientError as exc:
            raise FetchFailed(f"file download: {type(exc).__name__}") from None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()


def _plain_path(path: str) -> bool:
    """A relative path as Telegram gives (`photos/file_1.jpg`): no scheme, host or `..`, so the
    download stays on the Bot API's own file endpoint."""
    return (
        0 < len(path) <= 512
        and not path.startswith("/")
        and "://" not in path
        and ".." not in path.split("/")
        and all(c.isalnum() or c in "/._-" for c in path)
    )
