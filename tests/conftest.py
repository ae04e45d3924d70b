"""Fixtures every test may use and the hook that marks tests by suite; their machinery lives in
tests/support."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from aibot.store.database import Database
from tests.fakes.openai_server import FakeOpenAI
from tests.support.databases import migrated_store
from tests.support.gateway import GatewayFactory, GatewayStarter
from tests.support.log_leaks import leaks_in_recorded_runs
from tests.support.private_servers import PROCESS_REDIS
from tests.support.suites import suite_of

TESTS_DIR = Path(__file__).parent


@pytest.fixture(params=["sqlite", "postgresql", "mariadb"])
async def sql_engine(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    """A migrated store on SQLite, then on the local PostgreSQL and MariaDB: code that writes
    SQL directly is tested on every back end."""
    async with migrated_store(request.param, tmp_path) as engine:
        yield engine


@pytest.fixture(scope="session", autouse=True)
def no_secret_in_gateway_logs() -> Iterator[None]:
    """After the whole run, no gateway's logs hold a secret from its config (issue 7)."""
    yield
    leaks = leaks_in_recorded_runs()
    if leaks:
        pytest.fail("configured secrets found in gateway logs:\n" + "\n".join(leaks), pytrace=False)


@pytest.fixture
async def fake_llm() -> AsyncIterator[FakeOpenAI]:
    async with FakeOpenAI() as fake:
        yield fake


@pytest.fixture
async def gateway_factory(fake_llm: FakeOpenAI, tmp_path: Path) -> AsyncIterator[GatewayFactory]:
    """`await gateway_factory({...overrides}, name=..., env=...)` starts a real gateway."""
    starter = GatewayStarter(tmp_path, fake_llm)
    yield starter
    await starter.stop_all()


def pytest_itemcollected(item: pytest.Item) -> None:
    """Marks each test with its suite (`unit`, `integration`, …) from its directory."""
    item.add_marker(suite_of(item.path, TESTS_DIR))


def pytest_sessionfinish() -> None:
    PROCESS_REDIS.stop()
