"""The media room wired from config: where attachments are kept, who transcribes voice, which
providers see pictures, and the pipeline stage that uses them all."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from aibot.config import Config, ConfigError, upload_body_bytes
from aibot.config.presets import sees_images
from aibot.core.directory import ChannelDirectory
from aibot.i18n import N_
from aibot.media.blobs import LocalBlobStore
from aibot.media.intake import Intake
from aibot.media.speech import SpeechToText
from aibot.media.stage import MediaStage, VisionChoice
from aibot.ops.metrics import Metrics
from aibot.providers.router import ProviderRouter
from aibot.store.database import Database
from aibot.store.media_rows import MediaRows

# Where callers upload attachments (multipart/form-data): allowed up to `media.max_bytes` plus
# the form's other fields; other bodies keep `server.max_body_bytes`.
UPLOAD_PATHS = ("/api/v1/chat", "/web/")


def upload_limit(config: Config) -> int:
    return upload_body_bytes(config.server.max_body_bytes, config.media)


def media_dir(config: Config) -> Path:
    """`media.dir`, else `media/` beside the SQLite database, else `data/media`."""
    if config.media.dir:
        return Path(config.media.dir)
    url = config.storage.url
    if url.startswith("sqlite") and ":///" in url:
        database = url.split(":///", 1)[1].split("?", 1)[0]
        if database and database != ":memory:":
            return Path(database).parent / "media"
    return Path("data/media")


def build_speech(config: Config, router: ProviderRouter) -> SpeechToText | None:
    stt = config.models.stt
    if stt is None:
        return None
    provider = config.models.providers.get(stt.provider) if stt.provider else None
    base_url = stt.base_url or (router.providers[stt.provider].base_url if stt.provider else None)
    key = stt.api_key or (provider.api_key if provider else None)
    if not base_url:
        raise ConfigError.of(N_("models.stt: set base_url, or provider: <a models.providers name>"))
    return SpeechToText(
        base_url,
        key.get_secret_value() if key else None,
        stt.model,
        formats=stt.formats,
        timeout=stt.timeout,
        language=stt.language,
    )


def vision_of(config: Config, router: ProviderRouter) -> Callable[[str | None], bool]:
    """Whether a provider reads pictures: its `vision:` setting, else its model's name."""

    def sees(name: str | None) -> bool:
        provider = router.providers.get(name or "")
        if provider is None:
            return False
        said = config.models.providers[provider.name].vision
        return said if said is not None else sees_images(provider.model)

    return sees


class GatewayParts(Protocol):
    """What the media stage needs of the gateway being built."""

    router: ProviderRouter
    engine: Database
    directory: ChannelDirectory
    metrics: Metrics


def blob_store(config: Config) -> LocalBlobStore:
    """The blob store `config` names: a directory and a limit, nothing held open, so the HTTP
    uploads and the console make their own."""
    return LocalBlobStore(media_dir(config), config.media.max_bytes)


def build_media(config: Config, gateway: GatewayParts, clock: Callable[[], float]) -> MediaStage:
    """The media stage; temporary files a crash left in the blob store are removed."""
    router, metrics = gateway.router, gateway.metrics
    blobs = blob_store(config)
    blobs.prepare()
    budget = min(config.media.file_tokens, config.session.max_context_tokens // 2)
    intake = Intake(
        blobs,
        gateway.directory.fetcher,
        metrics,
        speech=build_speech(config, router),
        timeout=config.media.download_timeout,
        file_tokens=budget,
    )
    vision = VisionChoice(vision_of(config, router), config.models.vision, lambda: router.default)
    return MediaStage(
        config.media,
        intake,
        MediaRows(gateway.engine),
        blobs,
        vision,
        metrics,
        clock,
        max_turns=config.session.max_turns,
    )
