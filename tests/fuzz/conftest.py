"""One real gateway per fuzz module (machinery: tests/support/fuzz_rig.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from tests.support.fuzz_rig import Rig, running_rig


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def rig(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Rig]:
    async with running_rig(tmp_path_factory.mktemp("fuzz")) as rig:
        yield rig
