"""WeCom's callbacks to the gateway: encrypted, signed XML pushes with retries, URL verification."""

from __future__ import annotations

import asyncio
import secrets
import time
from urllib.parse import quote

import aiohttp
from wechatpy.enterprise.crypto import PrpCrypto
from wechatpy.utils import WeChatSigner
from yarl import URL

from tests.fakes.wecom_api.protocol import Delivery
from tests.fakes.wecom_api.tenant import _Tenant


class _Callbacks(_Tenant):
    """Builds callback XML, encrypts and signs it with wechatpy, and POSTs it."""

    # ---------------------------------------------------------------- WeCom's callbacks
    def encrypt(self, message: str) -> str:
        return str(PrpCrypto(self._key).encrypt(message, self.corp_id).decode())

    def sign(self, timestamp: str, nonce: str, encrypted: str) -> str:
        signer = WeChatSigner()
        signer.add_data(self.token, timestamp, nonce, encrypted)
        return str(signer.signature)

    def signed_query(self, encrypted: str, *, timestamp: str | None = None) -> dict[str, str]:
        timestamp = timestamp or str(int(time.time()))
        nonce = str(secrets.randbelow(10**10))
        return {
            "msg_signature": self.sign(timestamp, nonce, encrypted),
            "timestamp": timestamp,
            "nonce": nonce,
        }

    def envelope(self, encrypted: str) -> bytes:
        return (
            f"<xml><ToUserName><![CDATA[{self.corp_id}]]></ToUserName><AgentID><![CDATA["
            f"{self.agent_id}]]></AgentID><Encrypt><![CDATA[{encrypted}]]></Encrypt>"
            f"</xml>"
        ).encode()

    def text_xml(
        self, user: str, content: str, msg_id: int | None = None, create_time: int | None = None
    ) -> str:
        return self._message_xml(
            user,
            "text",
            f"<Content><![CDATA[{content}]]></Content>"
            f"<MsgId>{msg_id or secrets.randbelow(2**63)}</MsgId>",
            create_time,
        )

    def add_media(self, data: bytes, mime: str, name: str) -> str:
        """A file a user sent, as WeCom keeps it for three days; returns its MediaId."""
        media_id = f"3{secrets.token_hex(20)}"
        self.media[media_id] = (data, mime, name)
        return media_id

    def image_xml(self, user: str, msg_id: int | None = None, media_id: str = "media1") -> str:
        return self._message_xml(
            user,
            "image",
            "<PicUrl><![CDATA[http://127.0.0.1/p.jpg]]>"
            f"</PicUrl><MediaId><![CDATA[{media_id}]]></MediaId>"
            f"<MsgId>{msg_id or secrets.randbelow(2**63)}</MsgId>",
            None,
        )

    def voice_xml(self, user: str, media_id: str, recognition: str | None = None) -> str:
        """A voice message (AMR); `Recognition` only where speech recognition is switched on."""
        heard = f"<Recognition><![CDATA[{recognition}]]></Recognition>" if recognition else ""
        return self._message_xml(
            user,
            "voice",
            f"<MediaId><![CDATA[{media_id}]]></MediaId><Format><![CDATA[amr]]></Format>{heard}"
            f"<MsgId>{secrets.randbelow(2**63)}</MsgId>",
            None,
        )

    def location_xml(self, user: str) -> str:
        return self._message_xml(
            user,
            "location",
            "<Location_X>23.134521</Location_X><Location_Y>113.358803</Location_Y>"
            "<Scale>20</Scale><Label><![CDATA[位置信息]]></Label>"
            f"<MsgId>{secrets.randbelow(2**63)}</MsgId>",
            None,
        )

    def event_xml(
        self, user: str, event: str = "enter_agent", create_time: int | None = None
    ) -> str:
        return self._message_xml(
            user,
            "event",
            f"<Event><![CDATA[{event}]]></Event><EventKey><![CDATA[]]></EventKey>",
            create_time,
        )

    def _message_xml(self, user: str, kind: str, rest: str, create_time: int | None) -> str:
        return (
            f"<xml><ToUserName><![CDATA[{self.corp_id}]]></ToUserName><FromUserName>"
            f"<![CDATA[{user}]]></FromUserName><CreateTime>"
            f"{create_time or int(time.time())}</CreateTime><MsgType><![CDATA[{kind}]]>"
            f"</MsgType>{rest}<AgentID>{self.agent_id}</AgentID></xml>"
        )

    async def push(
        self, url: str, message: str, *, tries: int = 3, lost: int = 0
    ) -> list[Delivery]:
        """Delivers `message` as WeCom does: encrypted, signed, up to `tries` times.

        `lost`: that many first answers never reach WeCom (a network cut after our 200), so
        it delivers the same request again, as it does after its 5 s timeout.
        """
        encrypted = self.encrypt(message)
        query = self.signed_query(encrypted)
        deliveries: list[Delivery] = []
        timeout = aiohttp.ClientTimeout(total=self.callback_timeout)
        async with aiohttp.ClientSession(timeout=timeout) as http:
            for attempt in range(1, tries + 1):
                started = time.monotonic()
                try:
                    async with http.post(
                        url,
                        params=query,
                        data=self.envelope(encrypted),
                        headers={"Content-Type": "text/xml"},
                    ) as response:
                        status: int | None = response.status
                        body = await response.read()
                except (TimeoutError, aiohttp.ClientError):
                    status, body = None, b""
                deliveries.append(Delivery(attempt, status, body, time.monotonic() - started))
                if status == 200 and attempt > lost:
                    break
                await asyncio.sleep(self.retry_gap)
        return deliveries

    async def verify_url(self, url: str, echo: str | None = None) -> tuple[int, bytes, str]:
        """The console's 保存 on 设置API接收: a signed GET with a URL-encoded echostr.

        Returns the status, the body and the expected echo (the body must equal it exactly).
        """
        echo = echo or str(secrets.randbelow(10**19))
        encrypted = self.encrypt(echo)
        params = {**self.signed_query(encrypted), "echostr": encrypted}
        query = "&".join(f"{k}={quote(v, safe='')}" for k, v in params.items())
        timeout = aiohttp.ClientTimeout(total=self.callback_timeout)
        async with (
            aiohttp.ClientSession(timeout=timeout) as http,
            http.get(URL(f"{url}?{query}", encoded=True)) as response,
        ):
            return response.status, await response.read(), echo
