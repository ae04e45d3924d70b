"""The console's schedules page against the real app: viewers see, operators pause, resume
and run a schedule now (audited); a run started from the console is sent once."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from aibot.admin.roles import Role
from aibot.config import load_config
from aibot.gateway.asgi import create_app
from aibot.store.schema import outbox, scheduled_tasks
from tests.support.admin_app import ENGLISH, LOCAL, Admin

CONFIG = """\
storage:
  url: sqlite:///{dir}/store.db
channels:
  api:
    keys: ["config-key-0123456789"]
  webhook:
    callback_url: http://127.0.0.1:9/callback
schedules:
  - name: standup
    cron: "55 9 * * 1-5"
    time_zone: Asia/Shanghai
    target: {{channel: webhook, chat_id: team}}
    message: "站会 5 分钟后开始"
"""


def console(folder: Path, config: str) -> TestClient:
    path = folder / "config.yaml"
    path.write_text(config.format(dir=folder))
    path.chmod(0o600)
    return TestClient(create_app(load_config(path)), base_url=LOCAL, headers=ENGLISH)


@pytest.fixture(scope="module")
def admin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Admin]:
    with console(tmp_path_factory.mktemp("schedules"), CONFIG) as client:
        yield Admin(client)


def post(admin: Admin, role: Role, path: str) -> Any:
    headers, csrf = admin.session(role)
    return admin.client.post(path, headers=headers, data={"csrf": csrf}, follow_redirects=False)


def page(admin: Admin) -> str:
    headers, _ = admin.session(Role.VIEWER)
    response = admin.client.get("/admin/schedules", headers=headers)
    assert response.status_code == 200
    return response.text


def test_operators_pause_resume_and_run_now_viewers_only_look(admin: Admin) -> None:
    assert 'data-schedule="standup"' in page(admin) and "55 9 * * 1-5" in page(admin)
    assert post(admin, Role.VIEWER, "/admin/schedules/standup/pause").status_code == 403
    assert post(admin, Role.OPERATOR, "/admin/schedules/standup/pause").status_code == 303
    assert ">paused<" in page(admin)
    assert post(admin, Role.OPERATOR, "/admin/schedules/standup/resume").status_code == 303
    assert ">active<" in page(admin)
    assert post(admin, Role.OPERATOR, "/admin/schedules/nope/run").status_code == 404
    assert post(admin, Role.OPERATOR, "/admin/schedules/standup/run").status_code == 303
    actions = [(a, t) for _, a, t in admin.audit_actions() if a.startswith("schedule.")]
    assert actions == [
        ("schedule.pause", "standup"),
        ("schedule.resume", "standup"),
        ("schedule.run_now", "standup"),
    ]

    async def sent() -> list[str]:
        async with asyncio.timeout(15):
            while True:
                async with admin.gateway.engine.connect() as connection:
                    status = (await connection.execute(select(scheduled_tasks.c.status))).scalars()
                    if list(status) == ["sent"]:
                        texts = await connection.execute(select(outbox.c.text))
                        return [str(t) for t in texts.scalars()]
                await asyncio.sleep(0.1)

    assert admin.run(sent) == ["站会 5 分钟后开始"]
    assert ">sent<" in page(admin)


def test_a_schedule_reads_in_the_readers_language(tmp_path: Path) -> None:
    """Its target's channel by name (the code stays in config.yaml), a prompt said as one."""
    asking = CONFIG.replace('message: "站会 5 分钟后开始"', "prompt: 今天的待办总结")
    with console(tmp_path, asking) as client:
        headers, _ = Admin(client).session(Role.VIEWER)
        read = {
            language: client.get("/admin/schedules", headers={**headers, **accept}).text
            for language, accept in (("zh-CN", {"Accept-Language": "zh-CN"}), ("en", ENGLISH))
        }
    assert "<td>Webhook · team</td><td>请模型回答：今天的待办总结</td>" in read["zh-CN"]
    assert "<td>webhook · team</td><td>Ask the model: 今天的待办总结</td>" in read["en"]
