"""The page's attachments: `POST /web/upload` (one multipart file, same origin, the page's key
when it needs one) stores the file in the blob store and answers an opaque token; the next
chat frame names its tokens. A token is good for the session that uploaded it, for an hour:
a page can never reference another session's file (tokens are random, not the content hash).
"""

from __future__ import annotations

import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from fastapi import Request
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from aibot.channels.http_bodies import refusal
from aibot.channels.uploads import attachment_refusal, form_files, store_files
from aibot.channels.webchat.verify import same_origin
from aibot.core.media import MediaRefused, UploadStore
from aibot.core.messages import Attachment

TOKEN_TTL = 3600.0
MAX_TOKENS = 5000
MAX_PER_MESSAGE = 10


@dataclass(frozen=True, slots=True)
class Uploaded:
    session_id: str
    attachment: Attachment
    expires: float


class PageUploads:
    def __init__(
        self,
        store: UploadStore,
        principal: Callable[[Request], str | None],
        session_ok: Callable[[str], bool],
        clock: Callable[[], float] = time.monotonic,
        public_url: str | None = None,
    ) -> None:
        self._public_url = public_url
        self._store = store
        self._principal = principal
        self._session_ok = session_ok
        self._clock = clock
        self._tokens: OrderedDict[str, Uploaded] = OrderedDict()

    async def upload(self, request: Request) -> JSONResponse:
        if not same_origin(request, self._public_url):
            return refusal(request, 403, "cross_origin")
        if self._principal(request) is None:
            return refusal(request, 401, "invalid_api_key")
        session_id = request.query_params.get("session_id", "")
        if not self._session_ok(session_id):
            return refusal(request, 422, "invalid_session")
        try:
            async with request.form(max_files=1, max_fields=2) as form:
                stored = await store_files(self._store, form_files(form))
        except MediaRefused as refused:
            return attachment_refusal(request, refused)
        except HTTPException as exc:  # Starlette's refusal of a broken form or too many parts
            return refusal(request, exc.status_code, "unreadable_body", problem=exc.detail)
        if not stored:
            return refusal(request, 422, "no_file")
        token = secrets.token_urlsafe(18)
        self._remember(token, Uploaded(session_id, stored[0], self._clock() + TOKEN_TTL))
        return JSONResponse(
            {"token": token, "kind": stored[0].kind, "name": stored[0].name, "size": stored[0].size}
        )

    def take(self, session_id: str, tokens: object) -> tuple[Attachment, ...] | None:
        """The attachments the tokens name, for this session; None if any is unknown."""
        if not isinstance(tokens, list) or len(tokens) > MAX_PER_MESSAGE:
            return None
        now, found = self._clock(), []
        for token in tokens:
            item = self._tokens.get(token) if isinstance(token, str) else None
            if item is None or item.session_id != session_id or item.expires < now:
                return None
            found.append(item.attachment)
        for token in tokens:
            self._tokens.pop(token, None)
        return tuple(found)

    def _remember(self, token: str, item: Uploaded) -> None:
        self._tokens[token] = item
        while len(self._tokens) > MAX_TOKENS:
            self._tokens.popitem(last=False)
