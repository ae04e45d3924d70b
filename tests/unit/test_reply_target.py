"""`ReplyTarget`: each platform's typed view survives the store, and rows stored before the type
existed (flat JSON dicts) load unchanged, on SQLite and on the local PostgreSQL."""

from __future__ import annotations

import orjson
import pytest

from aibot.channels.dingtalk.inbound import DingtalkReply
from aibot.channels.feishu.inbound import FeishuReply
from aibot.channels.telegram.inbound import TelegramReply
from aibot.channels.webhook.inbound import WebhookReply
from aibot.channels.wecom.inbound import WecomReply
from aibot.core.batches import inbound_from_row
from aibot.core.messages import ReplyTarget
from aibot.store.database import Database
from aibot.store.repository import Repository
from aibot.store.schema import inbox, outbox

# What each channel stored in the `target` column before ReplyTarget, byte for byte.
OLD_TARGETS = {
    "telegram": '{"chat_id":-1001,"chat_type":"group","thread_id":5,"reply_to":42}',
    "feishu": '{"message_id":"om_1","chat_id":"oc_1","thread":true,"chat_type":"private"}',
    "dingtalk": (
        '{"chat_id":"cid==","chat_type":"group","conversation_type":"2",'
        '"conversation_id":"cid==","staff_id":"manager123","session_webhook":'
        '"https://oapi.dingtalk.com/robot/sendBySession?session=s1","webhook_expires_ms":1700005400000}'
    ),
    "wecom": '{"touser":"zhangsan","chat_id":"zhangsan"}',
    "webhook": (
        '{"session_id":"s-1","user_id":null,"message_id":"m-1","metadata":{"order":[1,{"x":null}]}}'
    ),
}


def test_each_platform_view_round_trips_through_json() -> None:
    views = [
        TelegramReply(5, 42).target(-1001, "group"),
        FeishuReply("om_1", thread=True).target("oc_1", "private"),
        FeishuReply(event_id="ev_1").target("oc_1", "group"),
        DingtalkReply("1", "cid==", None, None, 0).target(),
        WecomReply("zhangsan").target(),
        WebhookReply("s-1", None, "m-1", {"k": [1, None]}).target(),
        ReplyTarget(),
    ]
    for target in views:
        stored = orjson.loads(orjson.dumps(target.to_json()))
        assert ReplyTarget.from_json(stored) == target
    answered = TelegramReply(None, 9).target(7, "private").answering("req-1")
    assert answered.to_json()["request_id"] == "req-1"
    assert TelegramReply.of(ReplyTarget.from_json(answered.to_json())) == TelegramReply(None, 9)


def test_common_fields_of_an_unexpected_type_are_left_out() -> None:
    target = ReplyTarget.from_json({"chat_id": True, "chat_type": "channel", "request_id": 3})
    assert (target.chat_id, target.chat_type, target.request_id) == (None, None, None)
    assert TelegramReply.of(ReplyTarget.from_json({"thread_id": "5"})) == TelegramReply()


@pytest.mark.parametrize("channel", sorted(OLD_TARGETS))
async def test_rows_stored_before_the_type_load_unchanged(
    sql_engine: Database, channel: str
) -> None:
    old = OLD_TARGETS[channel]
    inbox_target = orjson.dumps(
        {**orjson.loads(old), "_principal": f"{channel}:u1", "_request_id": "req-old"}
    ).decode()
    async with sql_engine.begin() as connection:
        await connection.execute(
            inbox.insert().values(
                channel=channel,
                message_id="m-old",
                session_key="s",
                user_id="u1",
                text="hi",
                target=inbox_target,
                status="pending",
                attempts=0,
                received_at=1.0,
                updated_at=1.0,
            )
        )
        await connection.execute(
            outbox.insert().values(
                channel=channel,
                session_key="s",
                target=old,
                text="answer",
                status="pending",
                attempts=0,
                next_attempt_at=1.0,
                created_at=1.0,
                updated_at=1.0,
            )
        )
    repository = Repository(sql_engine)
    [row] = await repository.pending_inbox(10, set())
    inbound = inbound_from_row(row)
    assert (inbound.principal, inbound.request_id) == (f"{channel}:u1", "req-old")
    assert inbound.target.to_json() == orjson.loads(old)
    [reply] = await repository.pending_outbox(10)
    assert reply.target.to_json() == orjson.loads(old)
    assert reply.target == inbound.target
