"""A fake OpenAI-compatible server on loopback: chat completions, models, embeddings.

Why a fake and not mocks: the gateway's provider client must be tested over real sockets
against the real wire format (SSE framing, error bodies, ``Retry-After``, dropped connections),
and the benchmark needs an upstream that answers instantly so it measures the gateway alone.
The official ``openai`` SDK is the oracle that keeps this fake honest
(``tests/unit/test_fake_openai.py``).

Use it in tests::

    async with FakeOpenAI(api_key="k", reasoning="hmm") as fake:
        fake.script(Fail(status=429, retry_after=1.5), Hang(2.0))
        ...  # point the code under test at fake.base_url
        assert fake.requests[-1].json["model"] == "m"

or standalone (the benchmark does this)::

    python -m tests.fakes.openai_server --port 0 --latency-ms 0 [--api-key K]

The modules: ``wire`` (SSE, error bodies), ``scripting`` (actions tests script, recorded
requests), ``answers`` (options and answer shapes), ``server`` (``FakeOpenAI``: routes, faults,
inspection) and ``__main__`` (the standalone process).
"""

from tests.fakes.openai_answers import text_of
from tests.fakes.openai_server.scripting import (
    Action,
    CallTools,
    Fail,
    GarbageBody,
    Hang,
    MalformedChunk,
    RecordedRequest,
    Reply,
    StreamError,
    Truncate,
)
from tests.fakes.openai_server.server import FakeOpenAI

__all__ = [
    "Action",
    "CallTools",
    "Fail",
    "FakeOpenAI",
    "GarbageBody",
    "Hang",
    "MalformedChunk",
    "RecordedRequest",
    "Reply",
    "StreamError",
    "Truncate",
    "text_of",
]
