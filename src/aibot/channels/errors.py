"""One error type for every platform call that failed, read alike by the outbox and the channels.

`PlatformError` is a `SendError`, so a failure raised while sending a reply reaches the
outbox's retry logic as it is: `permanent` (retrying cannot help: a bad parameter, a chat the
bot left), `retry_after` (the platform said how long to wait). The client that raises it
decides both from its platform's own codes; the fields keep what a channel needs to react.
"""

from __future__ import annotations

from aibot.core.errors import SendError


class PlatformError(SendError):
    """A platform refused a call, or could not be reached.

    `status` is the HTTP status (None: no answer came, a network error); `code` the platform's
    own error code when it gave one (Telegram's `error_code`, Feishu's `code`, WeCom's
    `errcode`, DingTalk's `code`).
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: int | str | None = None,
        retry_after: float | None = None,
        permanent: bool = False,
    ) -> None:
        super().__init__(message, permanent=permanent, retry_after=retry_after)
        self.status = status
        self.code = code
