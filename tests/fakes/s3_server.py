"""A real S3 API on loopback: moto in server mode, in its own process on a free port, behind a
TCP relay that can go down and come back on the same port (moto keeps its objects in memory,
so an outage is simulated in front of it rather than by stopping it).

The official SDK (boto3) is the oracle the tests inspect the bucket with. `deny_writes` turns
on moto's IAM enforcement and returns credentials of a user who may read but not write.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import json
import subprocess
import sys
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from tests.support.net import free_port

MOTO_SERVER = Path(sys.executable).parent / "moto_server"
ACCESS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
READ_ONLY = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket"], "Resource": "*"}
    ],
}


class TcpRelay:
    """Forwards connections from its port to `target`; `go_down` drops them all and refuses
    new ones until `come_back`."""

    def __init__(self, target_port: int) -> None:
        self.port = free_port()
        self._target = target_port
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def come_back(self) -> None:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", self.port)

    def go_down(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._writers):
            writer.transport.abort()

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self._target)
        except OSError:
            writer.transport.abort()
            return
        self._writers |= {writer, up_writer}
        try:
            await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
        finally:
            self._writers -= {writer, up_writer}
            for w in (writer, up_writer):
                w.transport.abort()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(ConnectionError, OSError):
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    with contextlib.suppress(OSError, RuntimeError):
        writer.write_eof()


class S3Server:
    def __init__(self, bucket: str = "ai-bot-archive") -> None:
        self.bucket = bucket
        self._moto_port = free_port()
        self.moto_url = f"http://127.0.0.1:{self._moto_port}"
        self.relay = TcpRelay(self._moto_port)
        self.url = f"http://127.0.0.1:{self.relay.port}"
        self._process: subprocess.Popen[bytes] | None = None

    async def __aenter__(self) -> Self:
        self._process = subprocess.Popen(
            [str(MOTO_SERVER), "-H", "127.0.0.1", "-p", str(self._moto_port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        # moto imports boto and flask on start: over 20 s at load 14 on two cores
        deadline = asyncio.get_running_loop().time() + 90
        while True:
            try:
                await asyncio.to_thread(
                    urllib.request.urlopen, f"{self.moto_url}/moto-api/", None, 1
                )
                break
            except OSError:
                assert asyncio.get_running_loop().time() < deadline, "moto_server did not start"
                await asyncio.sleep(0.1)
        await asyncio.to_thread(self.client().create_bucket, Bucket=self.bucket)
        await self.relay.come_back()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.relay.go_down()
        if self._process is not None:
            self._process.terminate()
            await asyncio.to_thread(self._process.wait, 10)

    def client(self, service: str = "s3", **credentials: str) -> Any:
        """A boto3 client (the official SDK; its types are not needed here)."""
        boto3: Any = importlib.import_module("boto3")
        return boto3.client(
            service,
            endpoint_url=self.moto_url,
            region_name="us-east-1",
            **(credentials or ACCESS),
        )

    def config(self, **overrides: Any) -> dict[str, Any]:
        """The `archive:` section pointing at this server (through the relay)."""
        return {
            "endpoint": self.url,
            "bucket": self.bucket,
            "region": "us-east-1",
            "path_style": True,
            "access_key_id": ACCESS["aws_access_key_id"],
            "secret_access_key": ACCESS["aws_secret_access_key"],
            **overrides,
        }

    async def keys(self, prefix: str = "") -> list[str]:
        def listing() -> list[str]:
            pages = self.client().get_paginator("list_objects_v2")
            found = []
            for page in pages.paginate(Bucket=self.bucket, Prefix=prefix):
                found += [item["Key"] for item in page.get("Contents", [])]
            return found

        return await asyncio.to_thread(listing)

    async def read(self, key: str) -> bytes:
        def get() -> bytes:
            body = self.client().get_object(Bucket=self.bucket, Key=key)["Body"]
            return bytes(body.read())

        return await asyncio.to_thread(get)

    async def deny_writes(self) -> dict[str, str]:
        """Credentials of an IAM user that may read the bucket but not write to it, with
        moto's authentication and authorisation switched on from then on."""

        def setup() -> dict[str, str]:
            iam = self.client("iam")
            iam.create_user(UserName="reader")
            iam.put_user_policy(
                UserName="reader", PolicyName="read-only", PolicyDocument=json.dumps(READ_ONLY)
            )
            key = iam.create_access_key(UserName="reader")["AccessKey"]
            request = urllib.request.Request(  # noqa: S310 - loopback
                f"{self.moto_url}/moto-api/reset-auth",
                data=b"0",
                method="POST",
                headers={"Content-Type": "text/plain"},
            )
            urllib.request.urlopen(request, timeout=5).close()  # noqa: S310
            return {
                "access_key_id": key["AccessKeyId"],
                "secret_access_key": key["SecretAccessKey"],
            }

        return await asyncio.to_thread(setup)
