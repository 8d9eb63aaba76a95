"""The extension harness, checked against a hand-written fake back-end through the argocd-server stand-in.

It proves that the harness sends what the extension sends (paths, bodies, headers as they arrive after the
proxy) and parses answers as the extension does, so that end-to-end tests built on it speak for the real UI.

What the real npm llama-stack-client 0.3.0 sends, read from its code (node_modules/llama-stack-client/src):

* URL = baseURL + path (core.ts buildURL), baseURL = `http://<host>/extensions/assistant`; the proxy strips the
  prefix, so the back-end sees the paths below.
* `models.list()`            GET  /v1/models                       (no body; the client returns `.data`)
* `agents.create(b)`         POST /v1/agents                       b = {"agent_config": {...}}
* `agents.session.create`    POST /v1/agents/{agent_id}/session    {"session_name": "assistant"}
* `agents.turn.create`       POST /v1/agents/{agent_id}/session/{session_id}/turn   (SSE answer when stream:true)
* `responses.create(b)`      POST /v1/openai/v1/responses          (SSE answer when stream:true)
* Bodies are `JSON.stringify(body, null, 2)` (pretty-printed, keys in the caller's order; `undefined` values
  vanish, so `previous_response_id: undefined` is not sent while `null` is).
* Headers from the client: `accept: application/json`, `content-type: application/json` (not on GET/HEAD),
  `user-agent: LlamaStackClient/JS 0.3.0`, `x-stainless-lang: js`, `x-stainless-package-version: 0.3.0`,
  `x-stainless-os`, `x-stainless-arch`, `x-stainless-runtime`, `x-stainless-runtime-version`,
  `x-stainless-retry-count: <n>`, `x-stainless-timeout: 60`; `content-length` (computed); no Authorization (no
  apiKey) and no `X-LlamaStack-Client-Version`. The extension's defaultHeaders add `Argocd-Application-Name`,
  `Argocd-Project-Name`, and `Origin` / `Content-Length: -1`, which the browser drops (the browser sets its own
  Origin on POST and its own User-Agent).
* Retries: 2, on 408/409/429/>=500 and connection errors (or as `x-should-retry` says); timeout 60 s until the
  response headers arrive.
* SSE (streaming.ts): messages split on blank lines, `:` lines ignored, `event:`/`data:` collected, and
  `JSON.parse(data)` on every message whatever its event name; a message with neither is skipped.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from tests.support.argocd_proxy import ArgoCDProxy, serving_app
from tests.support.extension_client import (
    DRIVER,
    INSTRUCTIONS,
    ExtensionRun,
    arun_extension,
    astream_extension,
    ensure_npm_ci,
    extension_job,
    lightspeed_request,
)

APP, PROJECT = "argocd:guestbook", "default"
MANIFEST = json.dumps({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "shop"}})
EVENTS = json.dumps({"apiVersion": "v1", "items": [{"reason": "BackOff", "message": "Back-off restarting"}]})
LOGS = json.dumps([{"result": {"content": "ConnectionRefusedError", "podName": "web-1", "last": False}}])
PIECES = ["The pod ", "crashes ", "because ", "the database ", "refuses connections."]
DELAY = 0.05
MODELS = [
    {"identifier": "llama-guard-3", "model_type": "llm"},
    {"identifier": "meta/llama-3.1-405b", "model_type": "llm"},
    {"identifier": "nomic-embed", "model_type": "embedding"},
    {"identifier": "fake/llm-a", "model_type": "llm"},
    {"identifier": "fake/llm-b", "model_type": "llm"},
]


def sse(payload: Any) -> bytes:
    return f"data: {json.dumps(payload)}\n\n".encode()


class FakeStack:
    """Just enough llama-stack for the extension, answering with hand-written SSE per the contract."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.models = [dict(m, provider_id="fake", type="model", metadata={}, provider_resource_id=m["identifier"])
                       for m in MODELS]
        self.agents = 0
        self.sessions = 0
        self.responses = 0
        self.open_streams = 0  # answers still being written

    async def record(self, request: web.Request) -> dict[str, Any]:
        raw = await request.read()
        entry = {"method": request.method, "path": request.path_qs, "headers": request.headers.copy(),
                 "raw": raw, "body": json.loads(raw) if raw else None}
        self.requests.append(entry)
        return entry

    async def list_models(self, request: web.Request) -> web.Response:
        await self.record(request)
        return web.json_response({"data": self.models})

    async def create_agent(self, request: web.Request) -> web.Response:
        await self.record(request)
        self.agents += 1
        return web.json_response({"agent_id": f"agent-{self.agents}"})

    async def create_session(self, request: web.Request) -> web.Response:
        await self.record(request)
        self.sessions += 1
        return web.json_response({"session_id": f"session-{self.sessions}"})

    async def stream(self, request: web.Request, frames: list[bytes]) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
        await response.prepare(request)
        self.open_streams += 1
        try:
            for frame in frames:
                await response.write(frame)
                await asyncio.sleep(DELAY)
            await response.write_eof()
        finally:
            self.open_streams -= 1
        return response

    async def turn(self, request: web.Request) -> web.StreamResponse:
        entry = await self.record(request)
        prompt = entry["body"]["messages"][0]["content"]
        step = {"step_type": "inference", "step_id": "s1"}
        frames = [sse({"event": {"payload": {"event_type": "turn_start", "turn_id": "t1"}}}),
                  sse({"event": {"payload": {"event_type": "step_start", **step}}}),
                  sse({"event": {"payload": {"event_type": "step_progress", **step,
                                             "delta": {"type": "tool_call", "tool_call": "{}",
                                                       "parse_status": "in_progress"}}}})]
        if prompt.startswith("FAIL"):
            frames.append(sse({"error": {"message": "the model went away"}}))
        frames += [sse({"event": {"payload": {"event_type": "step_progress", **step,
                                              "delta": {"type": "text", "text": piece}}}}) for piece in PIECES]
        frames.append(sse({"event": {"payload": {"event_type": "turn_complete", "turn": {"turn_id": "t1"}}}}))
        return await self.stream(request, frames)

    async def respond(self, request: web.Request) -> web.StreamResponse:
        entry = await self.record(request)
        text = entry["body"]["input"]
        self.responses += 1
        rid = f"resp-{self.responses}"
        frames = [sse({"type": "response.created", "sequence_number": 0, "response": {"id": rid,
                                                                                      "status": "in_progress"}})]
        if text.startswith("TOOLS"):  # the extension appends ANY top-level delta, tool-call arguments included
            frames.append(sse({"type": "response.function_call_arguments.delta", "delta": '{"pod":"web-1"}',
                               "item_id": "fc1", "output_index": 0, "sequence_number": 1}))
        if text.startswith("FAIL"):
            frames.append(sse({"error": {"message": "the model went away"}}))
        if text.startswith("DONE"):  # OpenAI's terminator is not JSON: the 0.3.0 client throws on it
            frames.append(b"data: [DONE]\n\n")
        frames += [sse({"type": "response.output_text.delta", "delta": piece, "item_id": "m1", "output_index": 0,
                        "content_index": 0, "sequence_number": i + 2}) for i, piece in enumerate(PIECES)]
        frames.append(sse({"type": "response.completed", "sequence_number": 99,
                           "response": {"id": rid, "status": "completed", "output": []}}))
        return await self.stream(request, frames)

    async def streaming_query(self, request: web.Request) -> web.StreamResponse:
        await self.record(request)
        response = web.StreamResponse(headers={"Content-Type": "text/plain; charset=utf-8"})
        await response.prepare(request)
        for piece in PIECES:
            await response.write(piece.encode())
            await asyncio.sleep(DELAY)
        snowman = "☃".encode()  # three bytes, sent in two chunks
        await response.write(b" " + snowman[:1])
        await asyncio.sleep(0.15)
        await response.write(snowman[1:])
        await response.write_eof()
        return response

    def paths(self) -> list[str]:
        return [f"{r['method']} {r['path']}" for r in self.requests]


@pytest.fixture(scope="module", autouse=True)
def npm_installed() -> None:
    ensure_npm_ci()


@pytest.fixture
async def backend() -> AsyncIterator[tuple[FakeStack, str]]:
    fake = FakeStack()
    app = web.Application()
    app.router.add_get("/v1/models", fake.list_models)
    app.router.add_post("/v1/agents", fake.create_agent)
    app.router.add_post("/v1/agents/{agent}/session", fake.create_session)
    app.router.add_post("/v1/agents/{agent}/session/{session}/turn", fake.turn)
    app.router.add_post("/v1/openai/v1/responses", fake.respond)
    app.router.add_post("/v1/responses", fake.respond)
    app.router.add_post("/v1/streaming_query", fake.streaming_query)
    async with serving_app(app) as url:
        yield fake, url


@pytest.fixture
def stack(backend) -> FakeStack:
    return backend[0]


@pytest.fixture
def proxy(backend):
    with ArgoCDProxy(backend[1], username="sso-user", groups=("team-a", "team-b"), user_id="sub-1",
                     service_headers={"Authorization": "Bearer proxy-secret"}) as server:
        yield server


def job(proxy: ArgoCDProxy, provider: str, prompts: list[Any], **options: Any) -> dict[str, Any]:
    options.setdefault("manifest", MANIFEST)
    options.setdefault("events", EVENTS)
    options.setdefault("logs", LOGS)
    return extension_job(proxy.url, prompts, provider=provider, application=APP, project=PROJECT,
                         cookie="argocd.token=browser-session", **options)


def assert_streamed(run: ExtensionRun, turn: int = 0) -> None:
    deltas = run.turns[turn].deltas
    assert [piece for _, piece in deltas] == PIECES
    # one piece per frame, spread over time as the back-end sent them: nobody buffered the stream
    assert run.turns[turn].streamed_ms >= (len(PIECES) - 1) * DELAY * 1000 * 0.6


def assert_browser_headers(entry: dict[str, Any], proxy: ArgoCDProxy) -> None:
    h = entry["headers"]
    assert h["Argocd-Application-Name"] == APP and h["Argocd-Project-Name"] == PROJECT
    assert h["Argocd-Username"] == "sso-user" and h["Argocd-User-Groups"] == "team-a,team-b"
    assert h["Argocd-User-Id"] == "sub-1" and h["Argocd-Namespace"] == "argocd"
    assert h["Authorization"] == "Bearer proxy-secret" and "Cookie" not in h
    assert h["Accept"] == "application/json"
    assert h["X-Stainless-Lang"] == "js" and h["X-Stainless-Package-Version"] == "0.3.0"
    assert h["X-Stainless-Timeout"] == "60" and h["X-Stainless-Retry-Count"] == "0"
    assert "X-LlamaStack-Client-Version" not in h
    if entry["method"] == "POST":
        assert h["Content-Type"] == "application/json"
        assert h["Content-Length"] == str(len(entry["raw"]))  # the browser's, never "-1"
        assert h["Origin"] == proxy.root_url  # the page's origin, set by the browser
    else:
        assert "Origin" not in h and "Content-Length" not in h
    incoming = next(r for r in proxy.forwarded if r.path == entry["path"]).incoming_headers
    assert incoming["Cookie"] == "argocd.token=browser-session"  # what the browser sent, dropped by the proxy


async def test_agents_provider_two_turns(proxy, stack):
    run = await arun_extension(job(proxy, "agents", ["Why is web crashing?", "And now?"]))
    assert run.ok, run.explain()
    assert run.model == "fake/llm-a"  # no guard, no 405, llm only, first match
    assert stack.paths() == ["GET /v1/models", "POST /v1/agents", "POST /v1/agents/agent-1/session",
                             "POST /v1/agents/agent-1/session/session-1/turn",
                             "POST /v1/agents/agent-1/session/session-1/turn"]
    models, agent, session, turn1, turn2 = stack.requests
    assert models["raw"] == b""
    assert agent["body"] == {"agent_config": {"instructions": INSTRUCTIONS, "model": "fake/llm-a",
                                              "name": "Assistant for Argo CD"}}
    assert session["body"] == {"session_name": "assistant"}
    documents = [{"content": c, "mime_type": "text/json"} for c in (MANIFEST, EVENTS, LOGS)]
    assert turn1["body"] == {"stream": True, "documents": documents,
                             "messages": [{"role": "user", "content": "Why is web crashing?"}]}
    assert turn2["body"]["messages"] == [{"role": "user", "content": "And now?"}]
    assert turn2["body"]["documents"] == documents  # everything is re-sent every turn
    assert turn1["raw"].startswith(b'{\n  "stream": true,')  # JSON.stringify(body, null, 2)
    for entry in stack.requests:
        assert_browser_headers(entry, proxy)
    assert [r.incoming_path for r in proxy.forwarded] == ["/extensions/assistant" + r["path"]
                                                          for r in stack.requests]
    assert_streamed(run, 0)
    assert run.texts == ["".join(PIECES)] * 2  # the tool_call delta is not shown
    assert [(t.conversation_id, t.data) for t in run.turns] == [("session-1", "agent-1")] * 2


async def test_responses_provider_chains_response_ids(proxy, stack):
    run = await arun_extension(job(proxy, "responses", ["Why is web crashing?", "And now?", "Thanks"]))
    assert run.ok, run.explain()
    assert stack.paths() == ["GET /v1/models"] + ["POST /v1/openai/v1/responses"] * 3
    first, second, third = (r["body"] for r in stack.requests[1:])
    attached = "".join(f"\n\n[Attachment:application/json]\n{c}" for c in (MANIFEST, EVENTS, LOGS))
    assert first == {"model": "fake/llm-a", "instructions": INSTRUCTIONS, "stream": True,
                     "input": "Why is web crashing?" + attached, "tools": []}  # no previous_response_id at all
    assert second["previous_response_id"] == "resp-1" and second["input"] == "And now?" + attached
    assert third["previous_response_id"] == "resp-2"
    assert list(first) == ["model", "instructions", "stream", "input", "tools"]
    for entry in stack.requests:
        assert_browser_headers(entry, proxy)
    assert_streamed(run, 0)
    assert [t.conversation_id for t in run.turns] == ["resp-1", "resp-2", "resp-3"]
    assert run.texts == ["".join(PIECES)] * 3


async def test_responses_first_turn_may_send_null(proxy, stack):
    run = await arun_extension(job(proxy, "responses", ["Hi", "Again"], first_previous_null=True))
    assert run.ok, run.explain()
    first, second = (r["body"] for r in stack.requests[1:])
    assert "previous_response_id" in first and first["previous_response_id"] is None
    assert second["previous_response_id"] == "resp-1"


async def test_responses_on_the_newer_path(proxy, stack):
    run = await arun_extension(job(proxy, "responses", ["Hi"], responses_path="/v1/responses"))
    assert run.ok, run.explain()
    assert stack.paths() == ["GET /v1/models", "POST /v1/responses"]


async def test_any_top_level_delta_is_shown(proxy, stack):
    run = await arun_extension(job(proxy, "responses", ["TOOLS please"]))
    assert run.texts == ['{"pod":"web-1"}' + "".join(PIECES)]


async def test_error_chunks_end_the_turn(proxy, stack):
    for provider in ("agents", "responses"):
        run = await arun_extension(job(proxy, provider, ["FAIL now", "never sent"]))
        assert run.returncode == 1
        assert run.errors == ["the model went away"]
        assert run.turns[0].error == "the model went away" and len(run.turns) == 1
    assert not any(r["path"].endswith("turn") and "never sent" in str(r["body"]) for r in stack.requests)
    run = await arun_extension(job(proxy, "responses", ["FAIL once", "then fine"], stop_on_error=False))
    assert [t.error for t in run.turns] == ["the model went away", None] and run.returncode == 1
    assert "previous_response_id" not in stack.requests[-1]["body"]  # a failed turn stores no id


async def test_an_unusable_job_fails_the_test_not_a_turn(proxy):
    with pytest.raises(AssertionError, match="did not run the job"):
        await arun_extension({"baseURL": proxy.url, "prompts": ["x"]})


async def test_done_terminator_breaks_the_real_client(proxy, stack):
    run = await arun_extension(job(proxy, "responses", ["DONE"]))
    assert run.returncode == 1 and "JSON" in run.errors[0]
    events = [e for e in run.events if e["kind"] == "error"]
    assert events[0]["display"].startswith("Unexpected Error: ")


async def test_models_choice_and_settings_model(proxy, stack):
    run = await arun_extension(job(proxy, "responses", ["Hi"], model="configured/not-listed"))
    assert run.model == "configured/not-listed" and stack.requests[0]["path"] == "/v1/models"
    assert stack.requests[1]["body"]["model"] == "configured/not-listed"
    stack.models = [m for m in stack.models if m["identifier"] in ("llama-guard-3", "meta/llama-3.1-405b")]
    stack.requests.clear()
    run = await arun_extension(job(proxy, "agents", ["Hi"]))
    assert run.returncode == 1 and run.errors == ["No models are configured or available in LLamaStack"]
    assert stack.paths() == ["GET /v1/models"]


async def test_tab_switch_recreates_the_provider(proxy, stack):
    run = await arun_extension(job(proxy, "agents", ["one", "two"], reset_before=[1]))
    assert run.ok, run.explain()
    assert stack.paths().count("POST /v1/agents") == 2  # a new agent and session: server history is lost
    assert [t.conversation_id for t in run.turns] == ["session-1", "session-2"]
    stack.requests.clear()
    run = await arun_extension(job(proxy, "responses", ["one", "two"], reset_before=[1]))
    assert run.ok, run.explain()
    assert stack.paths().count("GET /v1/models") == 2
    assert stack.requests[-1]["body"]["previous_response_id"] == run.turns[0].conversation_id  # chain kept


async def test_per_turn_attachments(proxy, stack):
    run = await arun_extension(job(proxy, "agents", ["before attach", {"prompt": "after attach", "manifest": MANIFEST,
                                                                          "logs": LOGS}], events=None, logs=None))
    assert run.ok, run.explain()
    turns = [r["body"]["documents"] for r in stack.requests if r["path"].endswith("/turn")]
    assert [len(d) for d in turns] == [1, 2] and turns[1][1]["content"] == LOGS


async def test_proxy_refusal_reaches_the_chat(proxy, stack):
    run = await arun_extension(extension_job(proxy.url, ["Hi"], application="argocd:guestbook", project=""))
    assert run.returncode == 1
    assert run.errors[0].startswith("400 Invalid headers: ") and stack.requests == []


async def test_events_are_streamed_live(proxy, stack):
    seen = []  # (when the test got the delta, whether the back-end was still writing the answer)
    async for event in astream_extension(job(proxy, "responses", ["Hi"])):
        if event["kind"] == "delta":
            seen.append((asyncio.get_running_loop().time(), stack.open_streams))
    assert len(seen) == len(PIECES) and seen[-1][0] - seen[0][0] >= (len(PIECES) - 1) * DELAY * 0.6
    assert seen[0][1] == 1  # the first piece reached the test while the back-end was still streaming


async def test_instructions_match_the_driver():
    assert INSTRUCTIONS in DRIVER.read_text().replace("',\n  '", " ")


async def test_lightspeed_request(proxy, stack):
    reply = await lightspeed_request(proxy.url, "Why is web crashing?", application=APP, project=PROJECT,
                                     manifest=MANIFEST, events=EVENTS, logs=LOGS, model="granite",
                                     cookie="argocd.token=browser-session")
    assert reply.status == 200 and "content-length" not in reply.headers
    assert reply.text == "".join(PIECES) + " " + "\ufffd" * 3  # a split character is lost, as with TextDecoder
    assert [c for _, c in reply.chunks[:len(PIECES)]] == PIECES
    assert reply.chunks[len(PIECES) - 1][0] - reply.chunks[0][0] >= (len(PIECES) - 1) * DELAY * 0.6
    (entry,) = stack.requests
    assert entry["path"] == "/v1/streaming_query"
    body = entry["body"]
    assert list(body) == ["conversation_id", "attachments", "query", "system_prompt", "model"]  # no provider
    assert uuid.UUID(body["conversation_id"]).version == 4 and body["conversation_id"] == reply.conversation_id
    assert body["attachments"] == [
        {"content": MANIFEST, "content_type": "application/json", "attachment_type": "api object"},
        {"content": EVENTS, "content_type": "application/json", "attachment_type": "event"},
        {"content": LOGS, "content_type": "application/json", "attachment_type": "log"}]
    assert body["query"] == "Why is web crashing?" and body["system_prompt"] == INSTRUCTIONS
    assert entry["raw"] == json.dumps(body, separators=(",", ":")).encode()  # JSON.stringify, compact
    h = entry["headers"]
    assert h["Argocd-Username"] == "sso-user" and h["Authorization"] == "Bearer proxy-secret"
    assert "Cookie" not in h and h["Content-Length"] == str(len(entry["raw"]))
    assert h["Content-Type"] == h["Accept"] == "application/json" and h["Origin"] == proxy.root_url

    again = await lightspeed_request(proxy.url, "And now?", conversation_id=reply.conversation_id, logs=LOGS)
    assert stack.requests[-1]["body"]["conversation_id"] == reply.conversation_id
    assert [a["attachment_type"] for a in stack.requests[-1]["body"]["attachments"]] == ["log"]
    assert "model" not in stack.requests[-1]["body"] and again.ok


async def test_lightspeed_shows_refusals_as_the_answer(proxy, stack):
    reply = await lightspeed_request(proxy.url, "Hi", application="argocd:guestbook", project="")
    assert reply.status == 400 and reply.text == 'Invalid headers: header "Argocd-Project-Name" must be provided\n'
