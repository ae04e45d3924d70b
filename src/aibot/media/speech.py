"""Voice to text: an OpenAI-compatible `POST {base_url}/audio/transcriptions` (multipart `file`
and `model`, answer `{"text": …}`), with formats the service does not take (WeCom's AMR,
SILK…) converted to 16 kHz mono WAV by `ffmpeg` first. The file is streamed from disk."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import orjson

from aibot.core.media import FetchFailed, MediaRefused
from aibot.media.sniff import AUDIO_EXTENSIONS, sniff
from aibot.ops.proxy import proxy_for

if TYPE_CHECKING:
    import aiohttp

CONVERT_SECONDS = 120.0


class SpeechToText:
    def __init__(
        self,
        base_url: str,
        api_key: str | None,
        model: str,
        *,
        formats: list[str],
        timeout: float,
        language: str | None = None,
    ) -> None:
        self._url = base_url.rstrip("/") + "/audio/transcriptions"
        self._proxy = proxy_for(base_url)
        self._headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._model = model
        self._formats = {f.lower().lstrip(".") for f in formats}
        self._timeout = timeout
        self._language = language

    async def transcribe(self, path: Path) -> str:
        """The words spoken in the audio file at `path`."""
        with path.open("rb") as file:
            kind = sniff(file.read(32))
        extension = AUDIO_EXTENSIONS.get(kind or "")
        if extension is None:
            raise MediaRefused("not_audio")
        if extension in self._formats:
            return await self._post(path, f"voice.{extension}")
        converted = await to_wav(path)
        try:
            return await self._post(converted, "voice.wav")
        finally:
            converted.unlink(missing_ok=True)

    async def _post(self, path: Path, filename: str) -> str:
        """One session per transcription: voice notes are few and slow; nothing stays open."""
        import aiohttp  # at the first voice note, not at start

        async with aiohttp.ClientSession(headers=self._headers) as session:
            return await self._send(session, path, filename)

    async def _send(self, session: aiohttp.ClientSession, path: Path, filename: str) -> str:
        import aiohttp

        with path.open("rb") as file:
            form = aiohttp.FormData()
            form.add_field("model", self._model)
            if self._language:
                form.add_field("language", self._language)
            form.add_field("file", file, filename=filename)
            try:
                async with session.post(
                    self._url,
                    data=form,
                    proxy=self._proxy,
                    timeout=aiohttp.ClientTimeout(total=self._timeout),
                ) as response:
                    body = await response.read()
            except (TimeoutError, aiohttp.ClientError) as exc:
                raise FetchFailed(f"speech service unreachable: {exc!r}") from None
        if response.status >= 500 or response.status == 429:
            raise FetchFailed(f"speech service answered HTTP {response.status}")
        if response.status != 200:
            raise MediaRefused("speech_failed", status=response.status)
        try:
            text = orjson.loads(body).get("text")
        except (orjson.JSONDecodeError, AttributeError):
            text = None
        if not isinstance(text, str):
            raise MediaRefused("speech_failed", status=response.status)
        return text.strip()


async def to_wav(source: Path) -> Path:
    """`source` as 16 kHz mono WAV beside it, by ffmpeg (bounded in time); the caller removes
    it. Without ffmpeg the voice is refused with a reply naming what the admin must install."""
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        raise MediaRefused("no_ffmpeg")
    target = source.with_name(f"{secrets.token_hex(8)}.wav.part")
    process = await asyncio.create_subprocess_exec(
        ffmpeg, "-nostdin", "-v", "error", "-y", "-i", str(source),
        "-ac", "1", "-ar", "16000", "-f", "wav", str(target),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    try:
        code = await asyncio.wait_for(process.wait(), CONVERT_SECONDS)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()
        code = -1
    if code != 0:
        target.unlink(missing_ok=True)
        raise MediaRefused("not_audio")
    return target
