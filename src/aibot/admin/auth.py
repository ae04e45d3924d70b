"""Logging in and checking every console request: session cookie, role, CSRF token.

The session cookie is HttpOnly (scripts cannot read it), SameSite=Strict (other sites cannot
make the browser send it), scoped to /admin, and Secure when the gateway's public URL is
https. Every state-changing request must also carry the session's CSRF token; the login form,
which has no session yet, uses a double-submit cookie instead.
"""

from __future__ import annotations

import asyncio
import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from fastapi import Request, Response

from aibot import i18n
from aibot.admin.inputs import printable
from aibot.admin.lockout import Attempt, KeyedLocks, Lockout
from aibot.admin.passwords import verify_password
from aibot.admin.roles import Role
from aibot.admin.sessions import Sessions
from aibot.admin.totp import matching_step
from aibot.admin.users import NAME_MAX, AdminUser, AdminUsers
from aibot.admin.words import _
from aibot.store.admin_sessions import Session
from aibot.store.audit import AuditEntry, AuditLog

SESSION_COOKIE = "aibot_admin"
LOGIN_COOKIE = "aibot_admin_login"
COOKIE_PATH = "/admin"
# argon2 needs ~64 MiB per check; two at a time bounds memory under a login flood.
PARALLEL_HASHES = 2


@dataclass(frozen=True)
class Principal:
    """The signed-in user behind a request."""

    user: AdminUser
    session: Session
    ip: str

    def audit(self, action: str, target: str = "") -> AuditEntry:
        return AuditEntry(time.time(), self.user.name, action, target, self.ip)


@dataclass(frozen=True)
class LoginRefused:
    message: str
    status: int


def client_ip(request: Request) -> str:
    """The client's address for the lockout and the audit log: the TCP peer, or what a proxy
    in `server.trusted_proxies` reported (`ops/forwarded.py` decided that for every route)."""
    return request.client.host if request.client else ""


def new_login_token() -> str:
    """The login form's CSRF token, also set as a cookie (double submit): a page on another
    site can neither read the cookie nor make the browser send it (SameSite=Strict)."""
    return secrets.token_urlsafe(32)


def tokens_match(expected: str, presented: str | None) -> bool:
    return bool(presented) and hmac.compare_digest(expected.encode(), (presented or "").encode())


class AdminAuth:
    def __init__(
        self,
        users: AdminUsers,
        sessions: Sessions,
        audit: AuditLog,
        lockout: Lockout,
        *,
        secure_cookies: bool,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.users = users
        self.sessions = sessions
        self.audit = audit
        self.lockout = lockout
        self.secure_cookies = secure_cookies
        self._clock = clock
        self._hashing = asyncio.Semaphore(PARALLEL_HASHES)
        self._per_user = KeyedLocks()

    async def login(
        self, name: str, password: str, code: str, ip: str
    ) -> tuple[str, Principal] | LoginRefused:
        """Checks name, password and (if enrolled) the TOTP code, one at a time per user, each
        counted as a failure before it is checked (see `Lockout`)."""
        name = printable(name, NAME_MAX)
        keys = (f"user:{name.casefold()}", f"ip:{ip}")
        async with self._per_user.hold(keys[0]):
            attempt = await self.lockout.begin(*keys)
            if not isinstance(attempt, Attempt):
                minutes = max(1, round(attempt / 60))
                message = i18n.translate_plural(
                    i18n.request_language(),
                    "Too many failed logins. Try again in about {n} minute.",
                    "Too many failed logins. Try again in about {n} minutes.",
                    minutes,
                )
                return LoginRefused(message, 429)
            return await self._check(name, password, code, ip, attempt)

    async def _check(
        self, name: str, password: str, code: str, ip: str, attempt: Attempt
    ) -> tuple[str, Principal] | LoginRefused:
        user = await self.users.by_name(name) if name else None
        async with self._hashing:
            ok = await asyncio.to_thread(
                verify_password, user.password_hash if user else None, password
            )
        if ok and user is not None and user.totp_secret:
            step = matching_step(user.totp_secret, code, self._clock())
            ok = step is not None and await self.users.use_totp_step(user.id, step)
        if not ok or user is None:  # the attempt stays counted as a failure
            await self.audit.record(AuditEntry(self._clock(), name or "-", "login.failed", "", ip))
            return LoginRefused(_("Wrong user name, password or code."), 401)
        await self.lockout.succeeded(attempt, f"user:{name.casefold()}")
        token, session = await self.sessions.create(user.id, ip, self._clock())
        principal = Principal(user, session, ip)
        await self.audit.record(principal.audit("login"))
        return token, principal

    async def current(self, request: Request) -> Principal | None:
        token = request.cookies.get(SESSION_COOKIE)
        if not token:
            return None
        session = await self.sessions.find(token, self._clock())
        if session is None:
            return None
        # The role is read from the account on every request, so a change applies at once.
        user = await self.users.by_id(session.user_id)
        return Principal(user, session, self.client_ip(request)) if user else None

    def client_ip(self, request: Request) -> str:
        return client_ip(request)

    async def logout(self, principal: Principal) -> None:
        await self.sessions.end(principal.session.id)
        await self.audit.record(principal.audit("logout"))

    def set_session_cookie(self, response: Response, token: str) -> None:
        response.set_cookie(
            SESSION_COOKIE,
            token,
            max_age=int(self.sessions.ttl),
            path=COOKIE_PATH,
            httponly=True,
            samesite="strict",
            secure=self.secure_cookies,
        )
        response.delete_cookie(
            LOGIN_COOKIE,
            path=COOKIE_PATH,
            httponly=True,
            samesite="strict",
            secure=self.secure_cookies,
        )

    def clear_session_cookie(self, response: Response) -> None:
        response.delete_cookie(
            SESSION_COOKIE,
            path=COOKIE_PATH,
            httponly=True,
            samesite="strict",
            secure=self.secure_cookies,
        )

    def set_login_cookie(self, response: Response, token: str) -> None:
        response.set_cookie(
            LOGIN_COOKIE,
            token,
            max_age=3600,
            path=COOKIE_PATH,
            httponly=True,
            samesite="strict",
            secure=self.secure_cookies,
        )


def allowed(principal: Principal, needed: Role) -> bool:
    return principal.user.role.allows(needed)
