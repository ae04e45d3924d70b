"""`ai-bot doctor`'s checks of where data lives beyond the database: the data keys (can this
config read what the store holds?) and the archive bucket (can it be written and read back?)."""

from __future__ import annotations

import asyncio

from aibot.cli.common import problem, tr
from aibot.config import Config, ConfigError
from aibot.ops.checks import Check

TIMEOUT = 15.0
PROBE = "doctor-probe"


async def data_checks(config: Config) -> list[Check]:
    checks = []
    if config.storage.encryption is not None:
        checks.append(await _keys(config))
    if config.archive is not None:
        checks.append(await _bucket(config))
    return checks


async def _keys(config: Config) -> Check:
    from aibot.store.crypto import keyring_for
    from aibot.store.data_keys import verify
    from aibot.store.engine import create_engine

    try:
        keyring = keyring_for(config.storage.encryption)
        engine = create_engine(config.storage.url)
        try:
            async with asyncio.timeout(TIMEOUT):
                await verify(engine, keyring)
        finally:
            await engine.dispose()
    except ConfigError as exc:
        return Check(tr("data keys"), "fail", problem(exc), tr("see README, Encryption at rest"))
    except Exception as exc:  # the storage check reports an unreachable database
        reason = str(exc).splitlines()[0][:160]
        return Check(tr("data keys"), "warn", tr("not checked: {reason}", reason=reason))
    assert keyring is not None
    current = tr("encryption at rest on, current data key {key}", key=keyring.current_id)
    return Check(tr("data keys"), "ok", current)


async def _bucket(config: Config) -> Check:
    from aibot.store.archive.bucket import ArchiveError, Bucket

    assert config.archive is not None
    try:
        bucket = Bucket(config.archive)
        async with asyncio.timeout(TIMEOUT):
            await bucket.put_verified(f"{config.archive.prefix}{PROBE}", b"ai-bot doctor\n")
    except ArchiveError as exc:
        return Check(tr("archive"), "fail", str(exc), tr("see README, Archive"))
    except TimeoutError:
        return Check(
            tr("archive"),
            "fail",
            tr("the bucket did not answer in {seconds} s", seconds=round(TIMEOUT)),
            tr("check archive.endpoint"),
        )
    return Check(tr("archive"), "ok", tr("{where}: writable and readable", where=bucket.where))
