"""The console's security building blocks: argon2 hashing, lockout, TOTP (RFC vectors),
roles, PII masking, and the account/session/TOTP-replay rules on a real SQLite store."""

from __future__ import annotations

import hashlib

import pytest
from fastapi import Request

from aibot.admin.auth import AdminAuth, LoginRefused, client_ip
from aibot.admin.keys import ApiKeyStore
from aibot.admin.lockout import Lockout
from aibot.admin.passwords import WeakPassword, hash_password, verify_password
from aibot.admin.records import search_conversations, transcript
from aibot.admin.roles import Role
from aibot.admin.sessions import Sessions, token_id
from aibot.admin.stats import quantile
from aibot.admin.totp import _key, hotp, matching_step, new_secret, provisioning_uri, step_at
from aibot.admin.users import AdminUsers, UserExists
from aibot.ops.forwarded import forwarded_client, networks
from aibot.ops.pii import mask_pii
from aibot.store.audit import AuditLog
from aibot.store.database import Database

PASSWORD = "correct horse battery"


# -- passwords -------------------------------------------------------------------------------
def test_passwords_are_argon2id_salted_and_verified() -> None:
    first, second = hash_password(PASSWORD), hash_password(PASSWORD)
    assert first.startswith("$argon2id$") and first != second  # salted
    assert PASSWORD not in first
    assert verify_password(first, PASSWORD)
    assert not verify_password(first, PASSWORD + "!")
    assert not verify_password(None, PASSWORD)  # unknown user: dummy hash, still False
    assert not verify_password("not a hash", PASSWORD)


def test_short_passwords_are_refused() -> None:
    with pytest.raises(WeakPassword):
        hash_password("short")


# -- TOTP ------------------------------------------------------------------------------------
RFC4226_SECRET = b"12345678901234567890"
RFC4226_CODES = [
    "755224",
    "287082",
    "359152",
    "969429",
    "338314",
    "254676",
    "287922",
    "162583",
    "399871",
    "520489",
]
# RFC 6238 Appendix B: (time, SHA1, SHA256, SHA512), 8 digits.
RFC6238 = [
    (59, "94287082", "46119246", "90693936"),
    (1111111109, "07081804", "68084774", "25091201"),
    (1111111111, "14050471", "67062674", "99943326"),
    (1234567890, "89005924", "91819424", "93441116"),
    (2000000000, "69279037", "90698825", "38618901"),
    (20000000000, "65353130", "77737706", "47863826"),
]
RFC6238_KEYS = {
    "sha1": RFC4226_SECRET,
    "sha256": b"12345678901234567890123456789012",
    "sha512": b"1234567890" * 6 + b"1234",
}


def test_hotp_matches_rfc4226_vectors() -> None:
    assert [hotp(RFC4226_SECRET, counter) for counter in range(10)] == RFC4226_CODES


@pytest.mark.parametrize(("at", "sha1", "sha256", "sha512"), RFC6238)
def test_totp_matches_rfc6238_vectors(at: int, sha1: str, sha256: str, sha512: str) -> None:
    for digest, expected in (("sha1", sha1), ("sha256", sha256), ("sha512", sha512)):
        assert hotp(RFC6238_KEYS[digest], step_at(at), 8, digest) == expected


def test_matching_step_allows_one_step_of_drift_only() -> None:
    secret = new_secret()
    now = 1_700_000_000.0
    key = _key(secret)
    current = step_at(now)
    assert matching_step(secret, hotp(key, current), now) == current
    assert matching_step(secret, hotp(key, current - 1), now) == current - 1
    assert matching_step(secret, " " + hotp(key, current + 1), now) == current + 1
    assert matching_step(secret, hotp(key, current - 2), now) is None
    for bad in ("", "12345", "abcdef", "1234567"):
        assert matching_step(secret, bad, now) is None


def test_secret_and_provisioning_uri() -> None:
    secret = new_secret()
    assert len(_key(secret)) == 20
    uri = provisioning_uri(secret, "alice")
    assert uri.startswith("otpauth://totp/ai-bot%3Aalice?") and f"secret={secret}" in uri


# -- roles -----------------------------------------------------------------------------------
def test_roles_are_ordered() -> None:
    assert Role.ADMIN.allows(Role.OPERATOR) and Role.OPERATOR.allows(Role.VIEWER)
    assert not Role.VIEWER.allows(Role.OPERATOR) and not Role.OPERATOR.allows(Role.ADMIN)
    assert Role.parse("Operator") is Role.OPERATOR
    with pytest.raises(ValueError, match="unknown role"):
        Role.parse("root")


# -- PII masking -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "hidden", "shown"),
    [
        ("mail me at alice.smith@example.com", "alice.smith@example.com", "[email]"),
        ("call 13812345678 now", "13812345678", "[phone]"),
        ("call +86 138 1234 5678", "1234 5678", "[phone]"),
        ("id 11010519491231002X", "11010519491231002X", "[id-card]"),
        ("card 4111 1111 1111 1111", "4111 1111 1111", "[bank-card]"),
    ],
)
def test_pii_is_masked(text: str, hidden: str, shown: str) -> None:
    masked = mask_pii(text)
    assert hidden not in masked and shown in masked


def test_numbers_that_are_not_pii_stay() -> None:
    text = "order 20241122 costs 250 and ran 2024-01-01 on port 18789"
    assert mask_pii(text) == text


# -- dashboard quantiles ---------------------------------------------------------------------
def test_quantile_interpolates_inside_buckets() -> None:
    buckets = [(0.1, 5.0), (0.5, 10.0), (float("inf"), 10.0)]
    assert quantile(buckets, 0.5) == pytest.approx(0.1)
    assert quantile(buckets, 0.99) == pytest.approx(0.492)
    assert quantile([(0.1, 0.0), (float("inf"), 0.0)], 0.5) is None
    assert quantile([(1.0, 1.0), (float("inf"), 4.0)], 0.99) == 1.0


# -- accounts, sessions and TOTP replay on a real store --------------------------------------
@pytest.fixture
def engine(sql_engine: Database) -> Database:
    return sql_engine


async def test_accounts_are_unique_and_store_only_hashes(engine: Database) -> None:
    users = AdminUsers(engine)
    assert await users.count() == 0
    alice = await users.create(" alice ", Role.ADMIN, PASSWORD)
    assert alice.name == "alice" and verify_password(alice.password_hash, PASSWORD)
    with pytest.raises(UserExists):
        await users.create("alice", Role.VIEWER, PASSWORD)
    with pytest.raises(ValueError, match="printable"):
        await users.create("bad\nname", Role.VIEWER, PASSWORD)
    assert await users.set_password("alice", "another long password")
    stored = await users.by_name("alice")
    assert stored is not None and verify_password(stored.password_hash, "another long password")
    assert not await users.set_password("nobody", PASSWORD)


async def test_a_totp_step_is_accepted_once(engine: Database) -> None:
    users = AdminUsers(engine)
    user = await users.create("bob", Role.VIEWER, PASSWORD, totp_secret=new_secret())
    assert await users.use_totp_step(user.id, 100)
    assert not await users.use_totp_step(user.id, 100)  # replay
    assert not await users.use_totp_step(user.id, 99)  # older
    assert await users.use_totp_step(user.id, 101)


async def test_sessions_store_only_token_hashes_and_expire(engine: Database) -> None:
    sessions = Sessions(engine, ttl=60)
    token, session = await sessions.create(7, "127.0.0.1", now=1000)
    assert session.id == token_id(token) == hashlib.sha256(token.encode()).hexdigest()
    assert await sessions.find(token, now=1059) == session
    assert await sessions.find(token, now=1060) is None
    assert await sessions.find(session.id, now=1000) is None  # the stored hash is no cookie
    assert await sessions.find("x" * 500, now=1000) is None
    await sessions.end_all(7)
    assert await sessions.find(token, now=1000) is None


# -- client address --------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("peer", "forwarded", "expected"),
    [
        ("127.0.0.1", "6.6.6.6, 10.0.0.9", "10.0.0.9"),  # our proxy appended the last entry
        ("::1", "2001:db8::7", "2001:db8::7"),
        ("10.1.2.3", "10.0.0.9", "10.0.0.9"),  # inside a trusted CIDR
        ("8.8.8.8", "10.0.0.9", "8.8.8.8"),  # not a proxy we trust: its header is ignored
        ("127.0.0.1", "", "127.0.0.1"),
        ("127.0.0.1", "not-an-ip", "127.0.0.1"),
        ("testclient", "10.0.0.9", "testclient"),
    ],
)
def test_client_ip_trusts_only_configured_proxies(peer: str, forwarded: str, expected: str) -> None:
    scope = {
        "type": "http",
        "client": (peer, 1234),
        "headers": [(b"x-forwarded-for", forwarded.encode())] if forwarded else [],
    }
    trusted = networks(["127.0.0.1/32", "::1/128", "10.1.0.0/16"])
    assert client_ip(Request(forwarded_client(scope, trusted))) == expected
    assert client_ip(Request(forwarded_client(scope, []))) == peer  # the default: no proxy


async def test_control_characters_in_typed_text_never_reach_sql(engine: Database) -> None:
    """PostgreSQL refuses NUL in text: such input must be a miss, not a server error."""
    users = AdminUsers(engine)
    audit = AuditLog(engine)
    auth = AdminAuth(
        users, Sessions(engine, 60), audit, Lockout(engine, 5, 60), secure_cookies=False
    )
    refused = await auth.login("ali\x00ce", PASSWORD, "", "127.0.0.1")
    assert isinstance(refused, LoginRefused) and refused.status == 401
    assert (await audit.recent())[0].actor == "alice"
    assert await search_conversations(engine, "x\x00y") == []
    assert await transcript(engine, "web:\x00") == []
    _key, row = await ApiKeyStore(engine).create("ci\x00\nbot", "all", "alice", 0, None)
    assert row.name == "cibot"
