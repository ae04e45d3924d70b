"""The console in-process (the real app on a SQLite file): conversations, models, dead letters,
stats, masking, and that no input makes a route fail with a 500.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from aibot.admin.roles import Role
from aibot.store.schema import outbox
from tests.support.admin_app import (
    Admin,
    two_model_console,
)


@pytest.fixture(scope="module")
def admin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Admin]:
    with two_model_console(tmp_path_factory.mktemp("admin")) as console:
        yield console


def test_conversations_are_searchable_masked_and_exported(admin: Admin) -> None:
    now = time.time()
    admin.sql(
        "INSERT INTO conversations (session_key, channel, user_id, context_from, created_at, "
        "updated_at) VALUES ('web:pii', 'web', 'u-pii', 0, :now, :now)",
        now=now,
    )
    admin.sql(
        "INSERT INTO turns (session_key, role, content, prompt_tokens, "
        "completion_tokens, created_at) VALUES ('web:pii', 'user', "
        "'reach me at bob.jones@example.com or 13812345678, key sk-unused-provider-key',"
        " 0, 0, :now)",
        now=now,
    )
    headers, _csrf = admin.session(Role.VIEWER)
    found = admin.client.get("/admin/conversations", params={"q": "reach me"}, headers=headers)
    assert "web:pii" in found.text
    assert (
        "web:pii"
        not in admin.client.get("/admin/conversations", params={"q": "100%_"}, headers=headers).text
    )
    page = admin.client.get("/admin/conversation", params={"key": "web:pii"}, headers=headers)
    exported = admin.client.get(
        "/admin/conversation/export", params={"key": "web:pii"}, headers=headers
    )
    body = orjson.loads(exported.content)
    assert body["turns"][0]["role"] == "user"
    for shown in (page.text, exported.text):
        for secret in ("bob.jones@example.com", "13812345678", "sk-unused-provider-key"):
            assert secret not in shown
    assert "attachment" in exported.headers["content-disposition"]
    assert admin.audit_actions()[-1][1:] == ("conversation.export", "web:pii")


def test_models_page_compares_providers_and_shows_satisfaction_by_day(admin: Admin) -> None:
    now = time.time()
    for n, (provider_name, score) in enumerate((("alpha", 1), ("alpha", -1), ("beta", 1))):
        for role, at in (("user", now - 2), ("assistant", now)):
            admin.sql(
                "INSERT INTO turns (session_key, role, content, provider, prompt_tokens, "
                "completion_tokens, request_id, route, created_at) VALUES ('web:q', "
                ":role, 'x', :p, 10, 20, :r, 'faq', :at)",
                role=role,
                p=provider_name,
                r=f"q{n}",
                at=at,
            )
        admin.sql(
            "INSERT INTO ratings (request_id, user_id, channel, session_key, score, "
            "provider, model, route, created_at, updated_at) VALUES (:r, 'u', 'web', "
            "'web:q', :s, :p, 'm', 'faq', :at, :at)",
            r=f"q{n}",
            s=score,
            p=provider_name,
            at=now,
        )
    headers, _csrf = admin.session(Role.VIEWER)
    page = admin.client.get("/admin/models", headers=headers).text
    alpha = re.search(r'<tr data-quality="alpha"><td>alpha</td><td>2</td>\s*<td>([^<]+)</td>', page)
    assert alpha and alpha.group(1) == "50.0 % (2)", page
    assert re.search(r'<tr data-quality="beta"><td>beta</td><td>1</td>\s*<td>100.0 % \(1\)', page)
    assert "2.00 s / 2.00 s" in page and "<td>30</td>" in page  # latency, tokens per answer
    day = time.strftime("%Y-%m-%d", time.gmtime(now))
    row = f"<td>{day}</td><td>web chat</td><td>alpha</td><td>faq</td><td>50.0 %</td><td>2</td>"
    assert row in page  # the channel by its name; its code is `web`


def test_dead_letters_can_be_retried(admin: Admin) -> None:
    now = time.time() - 3600
    admin.sql(
        "INSERT INTO outbox (channel, session_key, target, text, status, attempts, "
        "next_attempt_at, last_error, created_at, updated_at) VALUES ('gone', 'gone:1', "
        "'{}', 'lost reply', 'dead', 10, :now, 'boom', :now, :now)",
        now=now,
    )
    headers, csrf = admin.session(Role.OPERATOR)
    page = admin.client.get("/admin/dead-letters", headers=headers)
    row_id = re.search(r'data-row="(\d+)"', page.text)
    assert row_id and "lost reply" in page.text
    assert (
        admin.client.post(
            f"/admin/dead-letters/{row_id.group(1)}/retry",
            headers=headers,
            data={"csrf": csrf},
            follow_redirects=False,
        ).status_code
        == 303
    )

    async def row() -> Any:
        async with admin.gateway.engine.connect() as connection:
            return (
                await connection.execute(select(outbox).where(outbox.c.id == int(row_id.group(1))))
            ).one()

    # Pending again, so an outbox pass sends it; with no sender for "gone" it is dead after
    # one attempt (the gateway's own outbox task may get there first: same outcome).
    admin.run(admin.gateway.outbox.deliver_due)
    current = admin.run(row)
    assert current.status == "dead" and current.attempts == 1 and current.created_at > now + 3000
    assert admin.audit_actions()[-1][1] == "deadletter.retry"


def test_stats_endpoint_reports_the_metrics(admin: Admin) -> None:
    admin.gateway.metrics.messages_in.labels("web").inc(3)
    admin.gateway.metrics.message_latency.labels("web").observe(0.2)
    admin.gateway.metrics.messages_out.labels("web", "answered").inc(2)
    admin.gateway.metrics.messages_out.labels("telegram", "sent").inc(1)
    admin.gateway.metrics.messages_out.labels("telegram", "dead").inc(5)
    headers, _csrf = admin.session(Role.VIEWER)
    stats = admin.client.get("/admin/api/stats", headers=headers).json()
    assert stats["messages_in"]["web"] >= 3
    assert stats["replies"] == 3 and stats["messages_out"]["dead"] == 5
    latency = stats["latency"]
    assert latency["count"] >= 1 and 0.1 <= latency["p50"] <= 0.25


def test_series_endpoint_answers_the_asked_range_else_the_default(admin: Admin) -> None:
    headers, _csrf = admin.session(Role.VIEWER)
    hour = admin.client.get("/admin/api/series?range=1h", headers=headers).json()
    assert hour["window"] == "1h" and hour["step"] == 60 and len(hour["times"]) == 60
    assert set(hour) >= {"messages", "errors", "tokens", "latency", "thumbs_up"}
    other = admin.client.get("/admin/api/series?range=1y", headers=headers).json()
    assert other["window"] == "24h" and len(other["times"]) == 96


@pytest.mark.parametrize(
    ("path", "form"),
    [
        ("/admin/keys/abc/revoke", {}),
        ("/admin/keys/%C2%B2/revoke", {}),  # "²" is a digit to str.isdigit, not to int()
        ("/admin/keys/99999999999999999999/revoke", {}),
        ("/admin/keys/424242/revoke", {}),
        ("/admin/keys/424242/rotate", {}),
        ("/admin/keys/%C2%B2/rotate", {}),
        ("/admin/channels/web/pause", {}),
        ("/admin/channels/nope/resume", {}),
        ("/admin/policies", {"per_user": "10/minute"}),  # no config.yaml here: read-only
        ("/admin/dead-letters/-1/retry", {}),
        ("/admin/users/x/signout", {}),
        ("/admin/models/default", {"provider": "nope"}),
        ("/admin/models/default", {}),
        ("/admin/keys", {"name": "", "scope": "all"}),
        ("/admin/keys", {"name": "k", "scope": "root"}),
        ("/admin/keys", {"name": "k", "scope": "all", "expires_days": "abc"}),
        ("/admin/keys", {"name": "k", "scope": "all", "expires_days": "nan"}),
        ("/admin/keys", {"name": "k", "scope": "all", "expires_days": "-1"}),
        ("/admin/keys", {"name": "k", "scope": "all", "expires_days": "1e400"}),
    ],
)
def test_bad_input_is_a_4xx(admin: Admin, path: str, form: dict[str, str]) -> None:
    headers, csrf = admin.session(Role.ADMIN)
    response = admin.client.post(path, headers=headers, data={"csrf": csrf, **form})
    assert 400 <= response.status_code < 500


def test_malformed_bodies_and_queries_are_4xx(admin: Admin) -> None:
    headers, csrf = admin.session(Role.ADMIN)
    bad_utf8 = admin.client.post(
        "/admin/models/default",
        headers={**headers, "content-type": "application/x-www-form-urlencoded"},
        content=b"csrf=\xff",
    )
    assert bad_utf8.status_code == 403
    many = "&".join(f"f{i}=1" for i in range(100)) + f"&csrf={csrf}"
    assert (
        admin.client.post(
            "/admin/keys",
            headers={**headers, "content-type": "application/x-www-form-urlencoded"},
            content=many.encode(),
        ).status_code
        == 403
    )
    assert (
        admin.client.get(
            "/admin/conversation", params={"key": "\x00" * 300}, headers=headers
        ).status_code
        == 404
    )
    assert (
        admin.client.get(
            "/admin/conversations", params={"q": "%" * 5000}, headers=headers
        ).status_code
        == 200
    )
    assert admin.client.post("/admin/login", content=b"\xff\xfe").status_code == 403


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    index=st.integers(0, 21),
    segment=st.text(max_size=30),
    fields=st.dictionaries(
        st.sampled_from(
            [
                "name",
                "scope",
                "expires_days",
                "provider",
                "q",
                "key",
                "actor",
                "words",
                "per_user",
                "daily_tokens_per_user",
            ]
        ),
        st.text(max_size=40),
        max_size=4,
    ),
)
def test_no_input_makes_a_route_fail(
    admin: Admin, index: int, segment: str, fields: dict[str, str]
) -> None:
    """Whatever goes in the path segment, the query and the form: a page or a 4xx."""
    route = admin.console.routes()[index]
    if route.path == "/admin/logout":
        return  # would end the session the other examples use
    headers, csrf = admin.session(Role.ADMIN)
    path = re.sub(r"\{[a-z_]+\}", quote(segment, safe="") or "x", route.path)
    if route.method == "GET":
        response = admin.client.get(path, params=fields, headers=headers, follow_redirects=False)
    else:
        response = admin.client.post(
            path, data={**fields, "csrf": csrf}, headers=headers, follow_redirects=False
        )
    assert response.status_code < 500
