"""The console's operator actions against the real app with a real config.yaml: pausing and
resuming a channel (messages kept, processed on resume), rotating an API key, and editing
the policies in the file (comments kept, applied by the reloader, refused values undone)."""

from __future__ import annotations

import asyncio
import re
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from aibot.admin import pages_settings
from aibot.admin.roles import Role
from aibot.config import Config, LoadedConfig, load_config
from aibot.config import edit as config_edit
from aibot.gateway.asgi import create_app
from aibot.store.schema import api_keys, inbox
from tests.support.admin_app import ENGLISH, LOCAL, Admin

API_KEY = "config-key-0123456789"
CONFIG = """\
# ai-bot config written by hand
storage:
  url: sqlite:///{dir}/store.db
models:
  default: alpha
  providers:
    alpha: {{base_url: "http://127.0.0.1:9/v1", api_key: sk-unused-key-0123, model: m,
             max_retries: 0}}
    beta: {{base_url: "http://127.0.0.1:9/v1", api_key: sk-unused-key-0123, model: n}}
channels:
  api:
    keys: ["{key}"]
  webhook:
    callback_url: http://127.0.0.1:9/callback
policy:
  sensitive_words:
    words: [alpha-word]   # keep this comment
    files: ["{dir}/words.txt"]
  rate_limit:
    per_user: 5/minute   # and this one
  access:
    deny_users: [telegram:666]
"""


@pytest.fixture(scope="module")
def admin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Admin]:
    folder: Path = tmp_path_factory.mktemp("console")
    (folder / "words.txt").write_text("# one per line\nfile-word\n")
    path = folder / "config.yaml"
    path.write_text(CONFIG.format(dir=folder, key=API_KEY))
    path.chmod(0o600)
    with TestClient(create_app(load_config(path)), base_url=LOCAL, headers=ENGLISH) as client:
        yield Admin(client)


def config_path(admin: Admin) -> Path:
    path: Path | None = admin.gateway.reloader.loaded.path
    assert path is not None
    return path


def inbox_status(admin: Admin, message_id: str) -> str:
    async def read() -> str:
        async with admin.gateway.engine.connect() as connection:
            return str(
                (
                    await connection.execute(
                        # stored within the caller's key: `key-1:<message_id>`
                        select(inbox.c.status).where(inbox.c.message_id.endswith(f":{message_id}"))
                    )
                ).scalar_one()
            )

    return admin.run(read)  # type: ignore[no-any-return]


def wait_for_status(admin: Admin, message_id: str, wanted: set[str]) -> str:
    async def poll() -> str:
        async with asyncio.timeout(10):
            while True:
                async with admin.gateway.engine.connect() as connection:
                    status = str(
                        (
                            await connection.execute(
                                # stored within the caller's key: `key-1:<message_id>`
                                select(inbox.c.status).where(
                                    inbox.c.message_id.endswith(f":{message_id}")
                                )
                            )
                        ).scalar_one()
                    )
                if status in wanted:
                    return status
                await asyncio.sleep(0.02)

    return admin.run(poll)  # type: ignore[no-any-return]


def post(admin: Admin, role: Role, path: str, **form: str) -> Any:
    headers, csrf = admin.session(role)
    return admin.client.post(
        path, headers=headers, data={"csrf": csrf, **form}, follow_redirects=False
    )


def test_a_paused_channel_keeps_its_messages_until_resumed(admin: Admin) -> None:
    assert post(admin, Role.OPERATOR, "/admin/channels/webhook/pause").status_code == 303
    assert admin.client.get("/readyz").json()["channels"]["webhook"]["paused"] is True

    accepted = admin.client.post(
        "/api/v1/messages",
        headers={"Authorization": f"Bearer {API_KEY}"},
        json={"message_id": "m-paused", "session_id": "s1", "message": "hello"},
    )
    assert accepted.status_code == 202  # the sender is acknowledged: the message is durable
    assert admin.run(admin.gateway.inbox.rescan) == 0
    assert inbox_status(admin, "m-paused") == "pending"
    headers, _csrf = admin.session(Role.VIEWER)
    page = admin.client.get("/admin/channels", headers=headers).text
    assert re.search(r'data-channel="webhook">.*?paused', page, re.S)
    assert "/admin/channels/webhook/resume" not in page  # viewers get no buttons
    operator, _csrf = admin.session(Role.OPERATOR)
    assert (
        "/admin/channels/webhook/resume"
        in admin.client.get("/admin/channels", headers=operator).text
    )

    assert post(admin, Role.OPERATOR, "/admin/channels/webhook/resume").status_code == 303
    # The provider is unreachable, so the answer is the failure notice: processed either way.
    assert wait_for_status(admin, "m-paused", {"done", "failed"})
    assert "paused" not in admin.client.get("/readyz").json()["channels"]["webhook"]
    actions = [a[1:] for a in admin.audit_actions()]
    assert ("channel.pause", "webhook") in actions
    assert ("channel.resume", "webhook (1 pending message(s) scheduled)") in actions


def new_key(page: str) -> str:
    match = re.search(r'<code id="new-key">([^<]+)</code>', page)
    assert match, page
    return match.group(1)


def key_row(admin: Admin, key_id: int) -> Any:
    async def read() -> Any:
        async with admin.gateway.engine.connect() as connection:
            return (await connection.execute(select(api_keys).where(api_keys.c.id == key_id))).one()

    return admin.run(read)


def test_rotating_a_key_replaces_it_in_one_step(admin: Admin) -> None:
    created = post(
        admin, Role.OPERATOR, "/admin/keys", name="billing", scope="openai", expires_days="30"
    )
    old = new_key(created.text)
    old_id = int(re.findall(r'data-key="(\d+)"', created.text)[0])
    assert (
        admin.client.get("/v1/models", headers={"Authorization": f"Bearer {old}"}).status_code
        == 200
    )

    rotated = post(admin, Role.OPERATOR, f"/admin/keys/{old_id}/rotate")
    assert rotated.status_code == 200
    fresh = new_key(rotated.text)
    assert fresh != old
    assert (
        admin.client.get("/v1/models", headers={"Authorization": f"Bearer {old}"}).status_code
        == 401
    )
    assert (
        admin.client.get("/v1/models", headers={"Authorization": f"Bearer {fresh}"}).status_code
        == 200
    )
    before, after = key_row(admin, old_id), key_row(admin, old_id + 1)
    assert before.revoked_at is not None and after.revoked_at is None
    assert (after.name, after.scope, after.expires_at) == ("billing", "openai", before.expires_at)
    assert admin.audit_actions()[-1][1] == "apikey.rotate"
    assert post(admin, Role.OPERATOR, f"/admin/keys/{old_id}/rotate").status_code == 404


def test_policies_page_shows_words_limits_and_access(admin: Admin) -> None:
    headers, _csrf = admin.session(Role.VIEWER)
    page = admin.client.get("/admin/policies", headers=headers).text
    for shown in ("alpha-word", "file-word", "Words in force: 2", "5/60s", "telegram:666"):
        assert shown in page, shown
    assert 'id="edit-policies"' not in page  # viewers read only


def test_an_edit_is_written_in_place_and_applied(admin: Admin) -> None:
    path = config_path(admin)
    response = post(
        admin,
        Role.OPERATOR,
        "/admin/policies",
        words="alpha-word\nnew word\n",
        per_user="5/60s",
        per_chat="30/minute",
        daily_tokens_per_user="1000",
    )
    assert response.status_code == 303, response.text
    text = path.read_text()
    for kept in (
        "# ai-bot config written by hand",
        "# keep this comment",
        "per_user: 5/minute   # and this one",
        "per_chat: 30/minute",
        "daily_tokens_per_user: 1000",
        "- new word",
    ):
        assert kept in text, text
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(admin.gateway.policies.current.words) == 3
    limits = admin.gateway.reloader.loaded.config.policy.rate_limit
    assert (limits.per_chat, limits.daily_tokens_per_user) == ((30, 60.0), 1000)
    assert admin.audit_actions()[-1][1:] == (
        "policy.edit",
        "words +['new word'] -[]; rate_limit.per_chat: off -> 30/minute; "
        "rate_limit.daily_tokens_per_user: off -> 1000",
    )
    headers, _csrf = admin.session(Role.OPERATOR)
    confirmed = admin.client.get(response.headers["location"], headers=headers).text
    assert "Saved to config.yaml and in force now." in confirmed
    assert "Saved to" not in admin.client.get("/admin/policies", headers=headers).text


def test_the_canary_split_is_set_and_ended_from_the_models_page(admin: Admin) -> None:
    path = config_path(admin)
    assert (
        post(admin, Role.OPERATOR, "/admin/models/canary", provider="beta", weight="30").status_code
        == 303
    )
    canary = admin.gateway.policies.current.canary
    assert canary is not None and (canary.provider, canary.weight) == ("beta", 30.0)
    assert "canary:" in path.read_text() and "# ai-bot config written by hand" in path.read_text()
    before = path.read_bytes()
    for bad in (
        {"provider": "beta", "weight": "150"},
        {"provider": "nope", "weight": "5"},
        {"provider": "beta", "weight": "x"},
    ):
        assert post(admin, Role.OPERATOR, "/admin/models/canary", **bad).status_code == 400
    assert path.read_bytes() == before
    assert (
        post(admin, Role.OPERATOR, "/admin/models/canary", provider="", weight="0").status_code
        == 303
    )
    assert admin.gateway.policies.current.canary is None and "canary" not in path.read_text()
    assert [a[1:] for a in admin.audit_actions()[-2:]] == [
        ("model.canary", "beta at 30 %"),
        ("model.canary", "split ended"),
    ]


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"per_user": "lots"}, "not a rate: &#39;lots&#39;"),
        ({"daily_tokens_per_user": "0"}, "greater than or equal to 1"),
        ({"daily_tokens_per_user": "1e3"}, "must be a whole number"),
    ],
)
def test_a_refused_value_leaves_file_and_policy_alone(
    admin: Admin, form: dict[str, str], message: str
) -> None:
    path = config_path(admin)
    before = path.read_bytes()
    policy = admin.gateway.reloader.loaded.config.policy
    fields = {
        "words": "\n".join(policy.sensitive_words.words),
        "per_user": "5/minute",
        "per_chat": "",
        "daily_tokens_per_user": "",
        **form,
    }
    response = post(admin, Role.OPERATOR, "/admin/policies", **fields)
    assert response.status_code == 400 and message in response.text, response.text
    for name, value in form.items():  # what was entered stays in the form, to be corrected
        assert f'name="{name}" value="{value}"' in response.text
    assert path.read_bytes() == before
    assert admin.gateway.reloader.loaded.config.policy == policy


def test_without_a_config_file_the_policies_are_read_only() -> None:
    with tempfile.TemporaryDirectory() as folder:
        config = Config.model_validate({"storage": {"url": f"sqlite:///{folder}/s.db"}})
        with TestClient(
            create_app(LoadedConfig(config=config, path=None)), base_url=LOCAL, headers=ENGLISH
        ) as client:
            admin = Admin(client)
            headers, csrf = admin.session(Role.OPERATOR)
            page = client.get("/admin/policies", headers=headers).text
            refused = client.post(
                "/admin/policies", headers=headers, data={"csrf": csrf, "per_user": "1/minute"}
            )
    assert 'id="read-only"' in page and 'id="edit-policies"' not in page
    assert refused.status_code == 409


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    words=st.lists(st.text(max_size=12), max_size=4),
    rates=st.lists(
        st.sampled_from(["", "5/minute", "2/10s", "0/s", "x", "${NOPE}", "3/0m"])
        | st.text(max_size=8),
        min_size=2,
        max_size=2,
    ),
    tokens=st.sampled_from(["", "0", "7", "-1", "²", "99999999999999999999"]),
)
def test_any_edit_is_applied_whole_or_not_at_all(
    admin: Admin, words: list[str], rates: list[str], tokens: str
) -> None:
    path = config_path(admin)
    before = path.read_bytes()
    response = post(
        admin,
        Role.OPERATOR,
        "/admin/policies",
        words="\n".join(words),
        per_user=rates[0],
        per_chat=rates[1],
        daily_tokens_per_user=tokens,
    )
    assert response.status_code in (303, 400), response.text
    running = admin.gateway.reloader.loaded.config.policy
    if response.status_code == 400:
        assert path.read_bytes() == before
    assert load_config(path).config.policy == running  # the file and the gateway agree


def test_a_refused_value_is_said_in_the_readers_language(admin: Admin) -> None:
    """The reloader keeps the refusal, not its English: each reader gets their language."""
    headers, csrf = admin.session(Role.OPERATOR)
    form = {"csrf": csrf, "words": "alpha-word", "per_user": "lots", "per_chat": ""}
    said = {
        language: admin.client.post(
            "/admin/policies", headers={**headers, "Accept-Language": language}, data=form
        ).text
        for language in ("zh-CN", "en")
    }
    chinese = "policy.rate_limit.per_user：不是有效的频率：&#39;lots&#39;（示例：5/minute"
    assert chinese in said["zh-CN"]
    assert "not a rate" not in said["zh-CN"]
    assert "policy.rate_limit.per_user: not a rate: &#39;lots&#39; (use e.g." in said["en"]


def test_the_refusal_is_said_when_the_watcher_reloads_the_restored_file(
    admin: Admin, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The config watcher sees the file put back and reloads it (valid) while the console is
    still answering: the answer keeps the refusal of the console's own reload (CI saw it empty)."""
    reloader = admin.gateway.reloader

    def restore_and_reload(path: Path, previous: bytes) -> None:
        config_edit.restore(path, previous)
        reloader.last_refusal = None  # what the watcher's successful reload leaves

    monkeypatch.setattr(pages_settings, "restore", restore_and_reload)
    policy = reloader.loaded.config.policy
    fields = {"words": "\n".join(policy.sensitive_words.words), "per_user": "lots"}
    response = post(admin, Role.OPERATOR, "/admin/policies", **fields)
    assert response.status_code == 400 and "not a rate: &#39;lots&#39;" in response.text
