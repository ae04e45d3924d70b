"""Checks one WeCom callback request and opens it, or says which config value explains a refusal.

Order matters: the signature (which needs the Token) is checked before anything is decrypted, so
a caller without the Token learns nothing about the key or the padding. XML is parsed with
defusedxml and DTDs are refused outright: WeCom never sends one, and entity tricks (billion
laughs, external entities) must not get near a parser.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import unquote
from xml.etree.ElementTree import Element, ParseError

from defusedxml.ElementTree import fromstring  # type: ignore[import-untyped]

from aibot.channels.wecom.crypto import CryptoError, WecomCrypto
from aibot.config import WecomChannelConfig

REPLAY_WINDOW = 3600.0  # seconds a callback's timestamp may differ from our clock
MAX_PARAM = 1024  # WeCom's parameters are short; the echostr is well under this


class Rejected(Exception):
    """A callback refused with `status`; `reason` is a short word safe to answer with."""

    def __init__(self, status: int, reason: str, fix: str) -> None:
        super().__init__(fix)
        self.status = status
        self.reason = reason
        self.fix = fix


def parse_xml(text: str | bytes) -> Element:
    """Safe XML: no DTD, no entities, no external references."""
    try:
        root: Element = fromstring(text, forbid_dtd=True)
    except (ParseError, ValueError) as exc:  # defusedxml's refusals are ValueErrors
        raise Rejected(400, "xml", f"not acceptable XML ({type(exc).__name__})") from None
    return root


def query_params(raw: bytes) -> dict[str, str]:
    """Percent-decoded query parameters, first occurrence winning.

    Unlike form decoding, "+" stays "+": WeCom's echostr is base64, and a "+" left unencoded by
    a proxy must not turn into a space and break the signature.
    """
    params: dict[str, str] = {}
    for pair in raw.decode("latin-1").split("&"):
        name, _, value = pair.partition("=")
        params.setdefault(unquote(name, errors="replace"), unquote(value, errors="replace"))
    return params


def child_text(root: Element, tag: str) -> str | None:
    element = root.find(tag)
    return None if element is None else (element.text or "")


@dataclass(frozen=True)
class Explainer:
    """Turns a crypto failure into the config value the user has to fix."""

    corp_id: str

    def __call__(self, error: CryptoError) -> Rejected:
        if error.problem == "signature":
            return Rejected(
                403,
                "signature",
                "msg_signature does not match: the Token in the "
                "WeCom console (接收消息 → 设置API接收) differs from "
                "channels.wecom.token",
            )
        if error.problem == "receiveid":
            return Rejected(
                400,
                "receiveid",
                f"the callback is for corp "
                f"{error.received_id!r}, not channels.wecom.corp_id "
                f"{self.corp_id!r}: fix corp_id",
            )
        return Rejected(
            400,
            "decrypt",
            f"could not decrypt ({error}): the EncodingAESKey in the "
            "WeCom console differs from channels.wecom.encoding_aes_key",
        )


class CallbackVerifier:
    def __init__(
        self, config: WecomChannelConfig, *, clock: Callable[[], float] = time.time
    ) -> None:
        self.crypto = WecomCrypto(
            config.token.get_secret_value(),
            config.encoding_aes_key.get_secret_value(),
            config.corp_id,
        )
        self._explain = Explainer(config.corp_id)
        self._clock = clock

    def echo(self, params: Mapping[str, str]) -> str:
        """URL verification: the decrypted `echostr`, to be answered verbatim."""
        echostr = self._param(params, "echostr")
        return self._open(params, echostr)

    def open_post(self, params: Mapping[str, str], body: bytes) -> Element:
        """The decrypted message of a POST, as an XML element."""
        encrypted = child_text(parse_xml(body), "Encrypt")
        if not encrypted:
            raise Rejected(400, "xml", "no Encrypt element in the body")
        return parse_xml(self._open(params, encrypted))

    def _open(self, params: Mapping[str, str], encrypted: str) -> str:
        signature = self._param(params, "msg_signature")
        timestamp = self._param(params, "timestamp")
        nonce = self._param(params, "nonce")
        try:
            self.crypto.verify(signature, timestamp, nonce, encrypted)
        except CryptoError as exc:
            raise self._explain(exc) from None
        fresh = (
            timestamp.isascii()
            and timestamp.isdigit()
            and abs(self._clock() - int(timestamp)) <= REPLAY_WINDOW
        )
        if not fresh:
            raise Rejected(
                403,
                "timestamp",
                "the callback's timestamp is more than an hour "
                "from this server's time: check the clock (NTP)",
            )
        try:
            return self.crypto.decrypt(encrypted)
        except CryptoError as exc:
            raise self._explain(exc) from None

    @staticmethod
    def _param(params: Mapping[str, str], name: str) -> str:
        value = params.get(name)
        if not value or len(value) > MAX_PARAM:
            raise Rejected(400, "params", f"missing or oversized query parameter {name}")
        return value
