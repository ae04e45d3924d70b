"""The platform's send API down "for minutes", with time compressed through `outbox.*`.

The generic webhook channel stands for any platform: its callback receiver answers 5xx, then
refuses connections, then recovers. The gateway must keep every reply in its outbox and retry
with growing backoff; give up after `max_attempts` with a dead letter an operator can see (the
outbox row, the console's dead-letters page, the metric) and resend by hand; and once the
platform is back, deliver each reply exactly once, in order per conversation. Telegram, whose
sendMessage has no idempotency key, gets the same storm through its own fake.
"""

from __future__ import annotations

import asyncio
import itertools
import re
from collections import Counter, defaultdict
from typing import Any

import aiohttp

from tests.fakes.callback_receiver import CallbackReceiver
from tests.fakes.telegram_api import Drop, Fail, FakeTelegram
from tests.support.admin_http import Console, create_user
from tests.support.gateway import GatewayFactory, RunningGateway, rows
from tests.support.gateway_calls import metric, post_webhook
from tests.support.waiting import eventually, wait_until


def platform_config(receiver: CallbackReceiver, **outbox: Any) -> dict[str, Any]:
    return {"channels": {"webhook": {"callback_url": receiver.url, "timeout": 2}}, "outbox": outbox}


async def send(
    http: aiohttp.ClientSession, gw: RunningGateway, sessions: int, per_session: int
) -> list[str]:
    """Posts `per_session` messages to each conversation in order; returns their ids."""
    ids = []
    for n in range(per_session):
        for s in range(sessions):
            message_id = f"m{s}-{n}"
            accepted = await post_webhook(http, gw, message_id, f"s{s} n{n}", f"s{s}")
            assert accepted.status == 202, accepted
            ids.append(message_id)
    return ids


def outbox_rows(gw: RunningGateway) -> list[tuple[Any, ...]]:
    return rows(
        gw,
        "select id, status, attempts, next_attempt_at, updated_at, last_error "
        "from outbox order by id",
    )


async def counted(
    http: aiohttp.ClientSession, gw: RunningGateway, outcome: str, expected: int
) -> bool:
    """Whether /metrics counts `expected` replies with `outcome`. The counter moves just after
    the row's write commits, so callers poll it briefly once the rows say so."""
    value = await metric(http, gw, "aibot_messages_out_total", channel="webhook", outcome=outcome)
    return value == expected


async def test_outage_retries_with_growing_backoff_then_delivers_each_reply_once(
    gateway_factory: GatewayFactory,
) -> None:
    """5xx, then connection refused, then back: nothing lost, nothing sent twice."""
    async with asyncio.timeout(55), CallbackReceiver() as receiver, aiohttp.ClientSession() as http:
        receiver.outage = 503
        gw = await gateway_factory(
            platform_config(receiver, backoff_base="100ms", backoff_max="800ms", max_attempts=40)
        )
        ids = await send(http, gw, sessions=5, per_session=4)

        # The scheduled delay of each attempt, read from the outbox as the retries happen.
        delays: dict[int, dict[int, float]] = defaultdict(dict)

        def sample() -> bool:
            for row_id, status, attempts, next_at, updated_at, _error in outbox_rows(gw):
                if status == "pending" and attempts:
                    delays[row_id][attempts] = next_at - updated_at
            return len(delays) >= 5 and all(len(d) >= 5 for d in delays.values())

        assert await wait_until(sample, 15), dict(delays)
        assert not receiver.received
        for row_delays in delays.values():
            uncapped = [row_delays[a] for a in sorted(row_delays) if a <= 4]
            assert uncapped == sorted(uncapped) and uncapped[-1] > uncapped[0], row_delays
            assert max(row_delays.values()) <= 0.8 + 1e-6, row_delays

        await receiver.go_down()
        assert await wait_until(
            lambda: any("Connect call failed" in (error or "") for *_, error in outbox_rows(gw)), 5
        )
        await asyncio.sleep(1.0)
        assert {status for _id, status, *_ in outbox_rows(gw)} == {"pending"}

        receiver.outage = None
        await receiver.come_back()
        received = await receiver.wait_for(len(ids), timeout=15)
        await asyncio.sleep(1.0)  # any duplicate would arrive within the 800 ms backoff cap
        assert Counter(r["in_reply_to"] for r in receiver.received) == Counter(ids)
        assert len({r["reply_id"] for r in received}) == len(ids)
        for s in range(5):
            texts = [r["text"] for r in received if r["session_id"] == f"s{s}"]
            assert texts == [f"echo: s{s} n{n}" for n in range(4)], texts
        assert {status for _id, status, *_ in outbox_rows(gw)} == {"sent"}
        assert await eventually(lambda: counted(http, gw, "sent", len(ids)), 5)


async def test_long_outage_dead_letters_for_operators_and_is_not_resent_on_recovery(
    gateway_factory: GatewayFactory,
) -> None:
    """Past `max_attempts` a reply is dead: visible in the table, the console and the metric;
    it stays dead when the platform recovers, and an operator's retry sends it exactly once."""
    async with asyncio.timeout(55), CallbackReceiver() as receiver, aiohttp.ClientSession() as http:
        receiver.outage = 502
        gw = await gateway_factory(
            platform_config(receiver, backoff_base="250ms", backoff_max="2s", max_attempts=5)
        )
        ids = await send(http, gw, sessions=6, per_session=1)

        assert await wait_until(
            lambda: {status for _id, status, *_ in outbox_rows(gw)} == {"dead"}, 20
        ), outbox_rows(gw)
        dead = outbox_rows(gw)
        assert [(attempts, error) for _id, _status, attempts, *_, error in dead] == [
            (5, "callback answered HTTP 502")
        ] * len(ids)
        by_reply: dict[int, list[float]] = defaultdict(list)
        for attempt in receiver.attempts:
            assert attempt.status == 502
            by_reply[attempt.reply_id].append(attempt.at)
        assert sorted(by_reply) == [row_id for row_id, *_ in dead]
        for times in by_reply.values():
            gaps = [b - a for a, b in itertools.pairwise(times)]
            # Delays of [0.125-0.25], [0.25-0.5], [0.5-1], [1-2] s: the last is 4x the first.
            assert len(gaps) == 4 and gaps[-1] >= 3 * gaps[0], gaps
        assert await eventually(lambda: counted(http, gw, "dead", len(ids)), 5)

        await create_user(gw, "olga", "operator")
        async with Console(gw) as console:
            assert (await console.login("olga"))[0] == 303
            status, html = await console.page("/admin/dead-letters")
            assert status == 200
            listed = sorted(int(n) for n in re.findall(r'data-row="(\d+)"', html))
            assert listed == [row_id for row_id, *_ in dead]
            assert html.count("callback answered HTTP 502") == len(ids)

            receiver.outage = None
            await asyncio.sleep(1.5)  # a recovered platform gets no dead reply on its own
            assert not receiver.received

            retried = dead[0][0]
            status, _ = await console.post(
                f"/admin/dead-letters/{retried}/retry", {}, token_from="/admin/dead-letters"
            )
            assert status == 303
            (reply,) = await receiver.wait_for(1, timeout=5)
            await asyncio.sleep(0.5)
            assert [r["reply_id"] for r in receiver.received] == [retried]
            # The six messages were answered concurrently, so which one row holds is read back.
            answered = {  # the inbox keeps the integrator's ids within its key
                outbox_id: message_id.removeprefix("key-1:")
                for outbox_id, message_id in rows(
                    gw, "select o.id, i.message_id from outbox o join inbox i on i.id = o.inbox_id"
                )
            }
            assert reply["in_reply_to"] == answered[retried] and answered[retried] in ids
            assert [status for _id, status, *_ in outbox_rows(gw)] == ["sent"] + ["dead"] * (
                len(ids) - 1
            )


async def test_telegram_send_storm_delivers_each_answer_once_in_order(
    gateway_factory: GatewayFactory,
) -> None:
    """sendMessage answers nginx's 502 page, drops connections, floods (429 retry_after) and
    fails with 500 twenty times over, spread across six chats: every answer still arrives
    once, in order, and each failed call cost exactly one retry."""
    token = "123456:TEST-TOKEN"
    chats = [101, 102, 103, 104, 105, 106]
    storm = (
        [Fail.bad_gateway(html=True)] * 8 + [Drop()] * 6 + [Fail.flood(1)] * 2 + [Fail.of(500)] * 4
    )
    async with asyncio.timeout(55), FakeTelegram(token=token, username="gw_test_bot") as tg:
        tg.script("sendMessage", *storm)
        gw = await gateway_factory(
            {
                "channels": {
                    "telegram": {
                        "bot_token": token,
                        "api_base": tg.base_url,
                        "poll_timeout": 1,
                        "rating_buttons": False,
                    }
                },
                "outbox": {"backoff_base": "100ms", "backoff_max": "1s", "max_attempts": 30},
            }
        )
        for n in range(2):
            for chat in chats:
                tg.user_message(chat, f"q{n} from {chat}")
        await tg.wait_sent(2 * len(chats), timeout=30)
        await asyncio.sleep(1.2)  # a duplicate would come within the 1 s backoff cap
        for chat in chats:
            assert [m["text"] for m in tg.sent_to(chat)] == [
                f"echo: q{n} from {chat}" for n in range(2)
            ]
        assert len(tg.calls("sendMessage")) == 2 * len(chats) + len(storm)
        assert rows(gw, "select status, sum(attempts) from outbox group by status") == [
            ("sent", 2 * len(chats) + len(storm))
        ]
