"""Files users send a DingTalk robot, and the robot file-download API
(PROTOCOLS-media-vendors-mcp §M.4): `POST /v1.0/robot/messageFiles/download` with
`x-acs-dingtalk-access-token` and `{"downloadCode", "robotCode"}` answers
`{"downloadUrl": …}`, a short-lived link fetched without the token."""

from __future__ import annotations

import asyncio
import secrets
import time
import uuid
from collections.abc import Callable
from typing import Any

import orjson
from aiohttp import web

JSON = dict[str, Any]
LINK_TTL = 60.0


def _error(status: int, code: str, message: str) -> web.Response:
    return web.json_response(
        {"requestid": uuid.uuid4().hex.upper(), "code": code, "message": message}, status=status
    )


class DingtalkFiles:
    def __init__(
        self,
        authorised: Callable[[web.Request], bool],
        robot_code: str,
        base_url: Callable[[], str],
    ) -> None:
        self._authorised = authorised
        self._robot_code = robot_code
        self._base_url = base_url
        self.files: dict[str, tuple[bytes, str]] = {}  # downloadCode -> (bytes, type)
        self._links: dict[str, tuple[str, float]] = {}  # link token -> (code, expiry)
        self.resolved: list[str] = []  # downloadCodes turned into links
        self.downloads: list[str] = []  # downloadCodes fetched
        self.requested: list[str] = []  # downloadCodes asked for, answered or not
        self.hang = 0.0  # seconds the download API waits before its answer

    def add(self, data: bytes, mime: str) -> str:
        code = f"dc_{secrets.token_urlsafe(24)}"
        self.files[code] = (data, mime)
        return code

    # -- message content (msgtype, content) as the robot receives it

    @staticmethod
    def picture(code: str) -> JSON:
        return {
            "msgtype": "picture",
            "content": {"downloadCode": code, "pictureDownloadCode": code},
        }

    @staticmethod
    def audio(code: str, recognition: str = "", duration: int = 2000) -> JSON:
        content = {"downloadCode": code, "recognition": recognition, "duration": duration}
        return {"msgtype": "audio", "content": content}

    @staticmethod
    def file(code: str, name: str) -> JSON:
        content = {"downloadCode": code, "fileName": name, "fileId": "f1", "spaceId": "s1"}
        return {"msgtype": "file", "content": content}

    @staticmethod
    def rich_text(text: str, code: str) -> JSON:
        items = [{"text": text}, {"type": "picture", "downloadCode": code}]
        return {"msgtype": "richText", "content": {"richText": items}}

    # -- the API

    async def download_link(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return _error(400, "InvalidAuthentication", "不合法的access_token")
        try:
            body = orjson.loads(await request.read())
        except orjson.JSONDecodeError:
            body = None
        if not isinstance(body, dict):
            return _error(400, "MissingBody", "body is mandatory for this action.")
        if body.get("robotCode") != self._robot_code:
            return _error(400, "invalidParameter.robotCode.notExsit", "robot not exist")
        code = body.get("downloadCode")
        if code not in self.files:
            return _error(400, "invalidParameter.downloadCode", "downloadCode is invalid")
        self.requested.append(str(code))
        if self.hang:
            await asyncio.sleep(self.hang)
        token = secrets.token_urlsafe(16)
        self._links[token] = (str(code), time.monotonic() + LINK_TTL)
        self.resolved.append(str(code))
        return web.json_response({"downloadUrl": f"{self._base_url()}/dtfiles/{token}"})

    async def download(self, request: web.Request) -> web.Response:
        code, until = self._links.get(request.match_info["token"], ("", 0.0))
        if not code or until < time.monotonic():
            return web.Response(status=403, text="<Error><Code>AccessDenied</Code></Error>")
        data, mime = self.files[code]
        self.downloads.append(code)
        return web.Response(body=data, content_type=mime)
