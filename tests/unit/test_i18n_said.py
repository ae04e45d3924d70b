"""Errors raised with a Phrase: English in the log (`str`), the reader's language where a person
reads them (`said`); an error raised with plain text is said as it is."""

from __future__ import annotations

import pytest

from aibot.admin.passwords import WeakPassword, hash_password
from aibot.admin.roles import Role
from aibot.i18n import said
from aibot.store.backup import BackupError, sqlite_path


def test_a_weak_password_reads_in_both_languages() -> None:
    with pytest.raises(WeakPassword) as refused:
        hash_password("short")
    assert str(refused.value).startswith("the password must have at least")
    assert said(refused.value, "zh-CN").startswith("密码至少需要")
    assert said(refused.value, "en") == str(refused.value)


def test_an_unknown_role_and_a_backup_refusal_read_in_chinese() -> None:
    with pytest.raises(ValueError) as role:
        Role.parse("boss")
    assert said(role.value, "zh-CN") == "没有“boss”这个角色：请用 admin、operator 或 viewer"
    with pytest.raises(BackupError) as backup:
        sqlite_path("sqlite:///:memory:")
    assert "in-memory" in str(backup.value)
    assert said(backup.value, "zh-CN") == "storage.url 指向内存中的 SQLite 数据库，没有可备份的内容"


def test_plain_errors_are_said_as_they_are() -> None:
    assert said(OSError("disk full"), "zh-CN") == "disk full"
