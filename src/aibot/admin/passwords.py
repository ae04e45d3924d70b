"""Password hashing with argon2id (RFC 9106 parameters via argon2-cffi).

A hash costs ~64 MiB and tens of milliseconds by design; the login path runs it in a worker
thread with bounded parallelism (see `auth.py`). argon2-cffi (and its cffi backend) is loaded by
the first password hashed or checked, not by every start of the gateway.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

from aibot.i18n import N_, Phrase

if TYPE_CHECKING:
    from argon2 import PasswordHasher

MIN_LENGTH = 10


@cache
def _hasher() -> PasswordHasher:
    from argon2 import PasswordHasher

    return PasswordHasher()


@cache
def _dummy_hash() -> str:
    """Unknown user names are checked against this, so a login takes as long whether or not
    the name exists and the response time does not reveal which accounts there are."""
    return _hasher().hash("no such user: this hash only equalises timing")


class WeakPassword(ValueError):
    """The password is too short to be accepted."""


def hash_password(password: str) -> str:
    if len(password) < MIN_LENGTH:
        raise WeakPassword(
            Phrase(N_("the password must have at least {n} characters"), {"n": MIN_LENGTH})
        )
    return _hasher().hash(password)


def verify_password(stored: str | None, password: str) -> bool:
    """Constant work whether or not there is a stored hash; never raises on a bad hash."""
    from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

    try:
        return _hasher().verify(stored or _dummy_hash(), password) and stored is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
