"""What tests script (Fail, LoseResponse) and read (calls, deliveries, messages)."""

from __future__ import annotations

from dataclasses import dataclass, field

from tests.fakes.feishu_api.protocol import CARD_FAILED, FREQUENCY, JSON


@dataclass(frozen=True, slots=True)
class Fail:
    """A scripted answer for the next call of one operation."""

    code: int
    msg: str
    status: int = 400
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def rate_limited(cls, reset: int = 1) -> Fail:
        return cls(
            *FREQUENCY,
            status=429,
            headers={"x-ogw-ratelimit-limit": "5", "x-ogw-ratelimit-reset": str(reset)},
        )

    @classmethod
    def frequency(cls) -> Fail:
        return cls(230020, "This operation triggers the frequency limit.", status=400)

    @classmethod
    def card_error(cls) -> Fail:
        return cls(*CARD_FAILED)


class LoseResponse:
    """Process the call, then cut the connection: the caller never learns it succeeded."""


@dataclass(slots=True)
class Call:
    op: str
    path: str
    body: JSON
    at: float
    status: int = 200
    code: int = 0


@dataclass(slots=True)
class Delivery:
    event_id: str
    message_id: str
    attempt: int
    status: int | None
    elapsed: float


@dataclass(slots=True)
class Message:
    message_id: str
    chat_id: str
    msg_type: str
    content: JSON
    sender: str  # "bot" or a user's open_id
    parent_id: str | None = None
    thread: bool = False
    uuid: str | None = None
    deleted: bool = False
    edits: int = 0
    patches: int = 0

    @property
    def text(self) -> str:
        """The visible words, whatever the format (for assertions)."""
        if self.msg_type == "text":
            return str(self.content.get("text", ""))
        if self.msg_type == "post":
            post: JSON = next(iter(self.content.values()), {})
            return "\n".join(
                "".join(str(e.get("text", "")) for e in paragraph)
                for paragraph in post.get("content", [])
            )
        if self.msg_type == "interactive":
            elements = (self.content.get("body") or self.content).get("elements", [])
            return "\n".join(
                str(e.get("content", "")) for e in elements if e.get("tag") == "markdown"
            )
        return ""  # images, files: no words

    @property
    def buttons(self) -> list[JSON]:
        """The callback values of the card's buttons (in column sets too), in order."""
        if self.msg_type != "interactive":
            return []
        found: list[JSON] = []

        def walk(elements: list[JSON]) -> None:
            for element in elements:
                if element.get("tag") == "button":
                    found.extend(
                        b.get("value", {})
                        for b in element.get("behaviors", [])
                        if b.get("type") == "callback"
                    )
                for column in element.get("columns", []):
                    walk(column.get("elements", []))

        walk((self.content.get("body") or self.content).get("elements", []))
        return found
        return ""


class Rejection(Exception):
    def __init__(
        self, status: int, code: int, msg: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(msg)
        self.status, self.code, self.msg, self.headers = status, code, msg, headers or {}
