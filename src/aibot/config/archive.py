"""`archive:` — old conversation history moved to an S3-compatible bucket (`ai-bot archive`)."""

from __future__ import annotations

from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator

from aibot.config.base import Section, invalid
from aibot.i18n import N_


class ArchiveConfig(Section):
    """Turns of conversations idle for `after_days` move to the bucket as compressed JSON Lines,
    one object per conversation and day; the database keeps a stub per object."""

    endpoint: str | None = Field(
        None,
        description=N_(
            "The service URL, e.g. https://oss-cn-hangzhou.aliyuncs.com, "
            "https://cos.ap-guangzhou.myqcloud.com, https://obs.cn-north-4.myhuaweicloud.com, "
            "https://<account>.r2.cloudflarestorage.com, http://127.0.0.1:9000 (MinIO); "
            "null: AWS S3 in `region`."
        ),
    )
    bucket: str = Field(min_length=3, max_length=63, description=N_("The bucket name."))
    prefix: str = Field("ai-bot/", max_length=200, description=N_("Key prefix inside the bucket."))
    region: str = Field("us-east-1", description=N_("The bucket's region (AWS, R2: auto)."))
    access_key_id: SecretStr | None = Field(
        None, description=N_('e.g. "${ARCHIVE_ACCESS_KEY_ID}".')
    )
    secret_access_key: SecretStr | None = Field(
        None, description=N_('e.g. "${ARCHIVE_SECRET_ACCESS_KEY}".')
    )
    path_style: bool = Field(
        False,
        description=N_(
            "Address the bucket as endpoint/bucket (MinIO and most self-hosted "
            "servers) instead of bucket.endpoint (AWS, OSS, COS, OBS, R2)."
        ),
    )
    after_days: float = Field(
        30, ge=1, description=N_("Archive the turns of conversations idle for this many days.")
    )

    @field_validator("endpoint")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise invalid(N_("not an http(s) URL: {value}"), value=repr(_shown(value)))
        return value.rstrip("/")

    @field_validator("prefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        value = value.strip("/")
        return f"{value}/" if value else ""

    def secret_values(self) -> list[str]:
        return [s.get_secret_value() for s in (self.access_key_id, self.secret_access_key) if s]


def _shown(url: str) -> str:
    """`url` as a refusal may quote it: a `user:password@` in it (an S3 endpoint written with
    its credentials) is cut, since the refusal reaches the terminal, the log and the console."""
    head, at, rest = url.rpartition("@")
    if not at:
        return url
    scheme, sep, _ = head.partition("://")
    return f"{scheme}{sep}…@{rest}" if sep else f"…@{rest}"
