"""`/remind` through a running gateway and a platform-like channel: set, list, cancel, and a
reminder that falls due while the gateway is stopped is delivered once it is back."""

from __future__ import annotations

import asyncio

from tests.fakes.callback_receiver import CallbackReceiver
from tests.support.gateway import GatewayFactory
from tests.support.webhook_client import CALLBACK_SECRET, post_message, webhook_config


async def test_reminder_set_listed_cancelled_and_delivered_after_a_restart(
    gateway_factory: GatewayFactory,
) -> None:
    async with CallbackReceiver(secret=CALLBACK_SECRET) as receiver:
        gw = await gateway_factory({**webhook_config(receiver), "tools": {"time_zone": "UTC"}})
        await post_message(gw, "r1", "/remind 3s 喝水", session="me")
        (set_reply,) = await receiver.wait_for(1)
        assert set_reply["text"].startswith("好的，我会在 ") and set_reply["text"].endswith(
            "：喝水"
        )
        await post_message(gw, "r2", "/remind 2026-12-24 09:00 会议", session="me")
        await post_message(gw, "r3", "/remind list", session="me")
        listing = (await receiver.wait_for(3))[2]["text"]
        assert "会议" in listing and "喝水" in listing and "2026-12-24 09:00" in listing
        number = listing.splitlines()[-1].split()[0]  # "#2", the meeting
        await post_message(gw, "r4", f"/remind cancel {number}", session="me")
        assert (await receiver.wait_for(4))[3]["text"] == f"已取消提醒 {number}。"
        await post_message(gw, "r5", "/remind tomorrow 喝水", session="me")
        assert (await receiver.wait_for(5))[4]["text"].startswith("用法：/remind 10m 喝水")

        await gw.stop()  # down while the reminder falls due
        await asyncio.sleep(4)
        await gw.start()
        reminder = (await receiver.wait_for(6, timeout=30))[5]
        assert reminder["text"] == "⏰ 提醒：喝水"
        await asyncio.sleep(2)
        assert len(receiver.received) == 6  # once, and the cancelled one never
