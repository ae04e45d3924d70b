"""Capacity test with Locust: people chatting through every way in at once, with think times.

    locust -f bench/locustfile.py --host http://127.0.0.1:18789      # the web UI on :8089
    make locust USERS=50 DURATION=2m                                  # headless, against the fake
    AIBOT_API_KEY=… locust -f bench/locustfile.py --headless -u 200 -r 10 -t 5m --host https://…

Users (weights in brackets, so 100 users are ~40 REST, 30 /v1, 20 page, 10 webhook):
- RestUser [4]: `POST /api/v1/chat`, a conversation per user that grows turn by turn;
- OpenAIUser [3]: `POST /v1/chat/completions`, plain, and streamed one time in three (the
  stream is read to `[DONE]`; its time is the whole answer);
- PageUser [2]: the web page's socket `/ws`: hello, then messages, each timed to `done`;
- WebhookUser [1]: `POST /api/v1/messages` as an integrator's system (202; the reply goes to
  its callback URL, so this times acceptance only — needs `channels.webhook`).

Each waits AIBOT_THINK_MIN..AIBOT_THINK_MAX seconds (default 2-8: a person reading and typing)
between messages. AIBOT_API_KEY is the key sent (default `bench-key`, what bench/locust_run.py
configures); AIBOT_MESSAGE sets the text.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from typing import Any

from locust import HttpUser, between, events, task
from websocket import WebSocket, create_connection

API_KEY = os.environ.get("AIBOT_API_KEY", "bench-key")
MESSAGE = os.environ.get("AIBOT_MESSAGE", "请用一句话介绍一下你自己。")
THINK = between(
    float(os.environ.get("AIBOT_THINK_MIN", "2")), float(os.environ.get("AIBOT_THINK_MAX", "8"))
)
HEADERS = {"Authorization": f"Bearer {API_KEY}"}


class RestUser(HttpUser):
    weight = 4
    wait_time = THINK

    def on_start(self) -> None:
        self.session = f"locust-{uuid.uuid4().hex[:12]}"

    @task
    def chat(self) -> None:
        body = {"session_id": self.session, "message": MESSAGE}
        with self.client.post(
            "/api/v1/chat", json=body, headers=HEADERS, name="REST chat", catch_response=True
        ) as response:
            if response.status_code != 200 or not response.json().get("reply"):
                response.failure(f"{response.status_code}: {response.text[:200]}")


class OpenAIUser(HttpUser):
    weight = 3
    wait_time = THINK

    def on_start(self) -> None:
        self.turns = 0

    def _body(self, stream: bool) -> dict[str, Any]:
        return {
            "model": os.environ.get("AIBOT_MODEL", "fake"),
            "messages": [{"role": "user", "content": MESSAGE}],
            "stream": stream,
        }

    @task
    def completion(self) -> None:
        self.turns += 1
        if self.turns % 3 == 0:
            self._streamed()
            return
        with self.client.post(
            "/v1/chat/completions",
            json=self._body(False),
            headers=HEADERS,
            name="/v1 completion",
            catch_response=True,
        ) as response:
            if response.status_code != 200 or not response.json().get("choices"):
                response.failure(f"{response.status_code}: {response.text[:200]}")

    def _streamed(self) -> None:
        with self.client.post(
            "/v1/chat/completions",
            json=self._body(True),
            headers=HEADERS,
            name="/v1 completion (stream)",
            stream=True,
            catch_response=True,
        ) as response:
            done = response.status_code == 200 and any(
                line.strip() == b"data: [DONE]" for line in response.iter_lines()
            )
            if not done:
                response.failure(f"{response.status_code}: stream did not finish")


class PageUser(HttpUser):
    """The web page: one socket per user, kept open while the person chats."""

    weight = 2
    wait_time = THINK

    def on_start(self) -> None:
        url = self.host.replace("http", "ws", 1).rstrip("/") + "/ws"
        self.socket: WebSocket = create_connection(url, timeout=60)
        self.socket.send(json.dumps({"type": "hello", "key": API_KEY}))
        ready = json.loads(self.socket.recv())
        if ready.get("type") != "ready":
            raise RuntimeError(f"the page refused the key: {ready}")

    def on_stop(self) -> None:
        self.socket.close()

    @task
    def message(self) -> None:
        started = time.perf_counter()
        error: Exception | None = None
        length = 0
        try:
            self.socket.send(json.dumps({"type": "message", "text": MESSAGE}))
            while True:
                frame = json.loads(self.socket.recv())
                length += len(str(frame.get("text", "")))
                if frame.get("type") == "done":
                    break
                if frame.get("type") == "error":
                    raise RuntimeError(frame.get("message", "error"))
        except Exception as exc:  # reported to Locust as the request's failure
            error = exc
        events.request.fire(
            request_type="WS",
            name="page message",
            response_time=(time.perf_counter() - started) * 1000,
            response_length=length,
            exception=error,
            context={},
        )


class WebhookUser(HttpUser):
    weight = 1
    wait_time = THINK

    def on_start(self) -> None:
        self.session = f"locust-hook-{uuid.uuid4().hex[:12]}"

    @task
    def message(self) -> None:
        body = {"message_id": uuid.uuid4().hex, "session_id": self.session, "message": MESSAGE}
        with self.client.post(
            "/api/v1/messages",
            json=body,
            headers=HEADERS,
            name="webhook message",
            catch_response=True,
        ) as response:
            if response.status_code != 202:
                response.failure(f"{response.status_code}: {response.text[:200]}")
