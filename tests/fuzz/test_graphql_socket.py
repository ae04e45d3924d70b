"""/graphql's socket (graphql-transport-ws) against hostile clients: whatever the
`connection_init` payload (near-miss keys, wrong types, garbage) and whatever frames follow, a
socket without a valid key or token is never acknowledged, never runs an operation and is
closed with a 44xx code; the model is never asked."""

from __future__ import annotations

import asyncio

import orjson
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from tests.support.fuzz_rig import Rig, fuzz_settings, in_thread, socket_exchange
from tests.support.hostile_inputs import NEAR_MISS_KEYS, nested

pytestmark = pytest.mark.asyncio(loop_scope="module")

SUBSCRIBE = orjson.dumps(
    {
        "id": "1",
        "type": "subscribe",
        "payload": {"query": 'subscription { answer(sessionId: "f", message: "hi") { type } }'},
    }
).decode()


async def test_graphql_socket_refuses_every_init_without_the_key(rig: Rig) -> None:
    credential: st.SearchStrategy[object] = st.sampled_from(
        [*NEAR_MISS_KEYS, None, 1, [], "Bearer "]
    ) | st.text(max_size=60)
    init = st.builds(
        lambda key, name: orjson.dumps(
            {"type": "connection_init", "payload": {name: key}}
        ).decode(),
        credential,
        st.sampled_from(["Authorization", "authorization", "token", "key"]),
    )
    frame = init | st.text(max_size=200) | st.binary(max_size=200) | st.just(SUBSCRIBE)
    frame |= st.just(nested(100_000).decode())

    @fuzz_settings(max_examples=60)
    @given(frames=st.lists(frame, min_size=1, max_size=3))
    @example(frames=[orjson.dumps({"type": "connection_init"}).decode(), SUBSCRIBE])
    def prop(frames: list[str | bytes]) -> None:
        exchange = socket_exchange(rig, "/graphql", frames, ("graphql-transport-ws",))
        seen, code = asyncio.run_coroutine_threadsafe(exchange, rig.loop).result(40)
        assert "connection_ack" not in seen and "next" not in seen, seen
        assert code is not None and 4400 <= code < 4500, (seen, code)

    await in_thread(prop)
    await rig.assert_nothing_accepted()
    assert rig.llm.requests == []
