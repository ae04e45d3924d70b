"""Hostile requests to a gateway whose console has a port of its own (`admin.port`, issue 9):
the random requests of test_hostile_routes.py, each to either port, get the same sane refusals,
and a route answers only on its side of the split (the console on the admin port, the rest on
the main one): on the wrong side every request, public or not, is refused.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from hypothesis import given
from hypothesis import strategies as st

from aibot.admin.port import is_admin_path
from tests.support.fuzz_rig import Rig, fuzz_settings, in_thread, running_rig
from tests.support.fuzz_routes import Hostile, assert_refused, hostile_requests
from tests.support.net import free_port

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def rig(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Rig]:
    workdir = tmp_path_factory.mktemp("fuzz-admin-port")
    async with running_rig(workdir, {"admin": {"port": free_port()}}) as rig:
        yield rig


async def test_random_requests_to_either_port_are_refused(rig: Rig) -> None:
    """Modest in examples: the routes are test_hostile_routes.py's; what is new is the port."""
    admin_port = rig.gw.config["admin"]["port"]

    @fuzz_settings(max_examples=150)
    @given(request=hostile_requests(), to_admin_port=st.booleans())
    def prop(request: Hostile, to_admin_port: bool) -> None:
        port = admin_port if to_admin_port else None
        reply = rig.send(request.method, request.path, port=port, **request.options)
        assert_refused(rig, request, reply)
        if is_admin_path(request.endpoint.path) != to_admin_port:
            assert 400 <= reply.status < 500, (to_admin_port, reply)

    await in_thread(prop)
    await rig.assert_nothing_accepted()
