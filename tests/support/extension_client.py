"""Plays the "Assistant for Argo CD" UI extension, unchanged, for tests.

* The two llama-stack providers run in the real npm `llama-stack-client@0.3.0` through
  `tests/clients/extension/drive.mjs` (a Node script): `run_extension()` / `arun_extension()` /
  `astream_extension()` / `drive()`. Build the job with `extension_job()`.
* The Lightspeed provider is a plain browser `fetch`; `lightspeed_request()` sends exactly that request and reads
  the answer as the extension does (raw bytes, each chunk decoded on its own and appended; no SSE parsing).

Point both at an `ArgoCDProxy` (tests/support/argocd_proxy.py): the extension never talks to the back-end directly.

`npm ci` runs in tests/clients/extension the first time a test needs the driver, and again whenever
package-lock.json changes (a stamp in node_modules records the lock it installed); set EXTENSION_NPM_CI=always to
force it. If npm fails the test fails with npm's output; nothing is skipped.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import httpx

from tests.support.npm import needed, npm_ci

DRIVER_DIR = needed(Path(__file__).resolve().parents[1] / "clients" / "extension")
DRIVER = DRIVER_DIR / "drive.mjs"
EXTENSION_PREFIX = "/extensions/assistant"
MIME_JSON = "application/json"

# The system prompt this harness sends (the driver has the same text; test_extension_harness checks they agree).
INSTRUCTIONS = (
    "You help people operate applications deployed with Argo CD on Kubernetes. "
    "The message may carry the live manifest, recent events and container logs of the resource the user is "
    "looking at, as JSON attachments. Ground your answer in them, say what is wrong and how to fix it, and keep "
    "it short. Answer in Markdown. If a question has nothing to do with Argo CD or Kubernetes, decline politely."
)

Provider = Literal["agents", "responses"]

# ---- installing the driver -------------------------------------------------------------------------------
def ensure_npm_ci(force: bool | None = None) -> float:
    """`npm ci` in tests/clients/extension when its lock changed (or `force`, or EXTENSION_NPM_CI=always)."""
    if force is None:
        force = os.environ.get("EXTENSION_NPM_CI") == "always"
    return npm_ci(DRIVER_DIR, force=force)


# ---- jobs and results ------------------------------------------------------------------------------------
def extension_job(
    base_url: str,
    prompts: Iterable[str | Mapping[str, Any]],
    *,
    provider: Provider = "responses",
    application: str = "argocd:guestbook",
    project: str = "default",
    manifest: str | None = None,
    events: str | None = None,
    logs: str | None = None,
    attachments: Iterable[Mapping[str, str]] | None = None,
    model: str | None = None,
    first_previous_null: bool = False,
    reset_before: Iterable[int] = (),
    responses_path: str | None = None,
    cookie: str | None = None,
    origin: str | None = None,
    raw_chunks: bool = False,
    stop_on_error: bool = True,
    max_retries: int | None = None,
    timeout_ms: int | None = None,
) -> dict[str, Any]:
    """The JSON job for drive.mjs (see its header for every field).

    `base_url` is the extension's base URL, normally `proxy.url` (`http://127.0.0.1:<port>/extensions/assistant`).
    `manifest`/`events`/`logs` are the JSON strings the extension attaches (in that order, `application/json`);
    `attachments=[{"content", "mimeType"}]` gives the list verbatim instead. A prompt may be a dict
    `{"prompt": ..., "manifest"/"events"/"logs"/"attachments": ...}` to change the attachments from that turn.
    `model` is settings.model. `first_previous_null` sends `previous_response_id: null` on the first Responses
    turn (extension main) instead of omitting it (v0.3.0). `reset_before=[i]` re-creates the provider before turn i
    (tab switch). `cookie` is what the browser adds (`proxy.login(...)` returns one). `max_retries`/`timeout_ms`
    are test-only client options the extension never sets; leave them None to keep the SDK defaults.
    """
    job: dict[str, Any] = {
        "baseURL": base_url,
        "application": application,
        "project": project,
        "provider": provider,
        "prompts": [p if isinstance(p, str) else dict(p) for p in prompts],
        "firstPreviousNull": first_previous_null,
        "resetBefore": list(reset_before),
        "rawChunks": raw_chunks,
        "stopOnError": stop_on_error,
    }
    if attachments is not None:
        job["attachments"] = [dict(a) for a in attachments]
    for key, value in (("manifest", manifest), ("events", events), ("logs", logs)):
        if value is not None:
            job[key] = value
    optional = {"model": model, "responsesPath": responses_path, "cookie": cookie, "origin": origin,
                "maxRetries": max_retries, "timeoutMs": timeout_ms}
    job.update({k: v for k, v in optional.items() if v is not None})
    return job


@dataclass
class Turn:
    index: int
    deltas: list[tuple[float, str]] = field(default_factory=list)  # (ms since driver start, text piece)
    text: str = ""  # what the chat shows at the end of the turn
    conversation_id: str | None = None  # session id (agents) or response id (responses)
    data: str | None = None  # agent id (agents)
    error: str | None = None  # the message; the chat shows "Unexpected Error: " + it
    chunks: list[dict[str, Any]] = field(default_factory=list)  # raw stream chunks (rawChunks jobs only)

    @property
    def ok(self) -> bool:
        return self.error is None and self.conversation_id is not None

    @property
    def streamed_ms(self) -> float:
        """Milliseconds between the first and the last text piece (0 if fewer than two pieces)."""
        return self.deltas[-1][0] - self.deltas[0][0] if len(self.deltas) > 1 else 0.0


@dataclass
class ExtensionRun:
    events: list[dict[str, Any]]
    returncode: int
    stderr: str = ""

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    @property
    def model(self) -> str | None:
        models = [e["model"] for e in self.events if e.get("kind") == "model"]
        return models[0] if models else None

    @property
    def errors(self) -> list[str]:
        return [e.get("message") or "" for e in self.events if e.get("kind") == "error"]

    @property
    def turns(self) -> list[Turn]:
        turns: dict[int, Turn] = {}
        for event in self.events:
            if "turn" not in event:
                continue
            turn = turns.setdefault(event["turn"], Turn(event["turn"]))
            kind = event["kind"]
            if kind == "delta":
                turn.deltas.append((event["t"], event["text"]))
            elif kind == "chunk":
                turn.chunks.append(event["chunk"])
            elif kind == "done":
                turn.text, turn.conversation_id, turn.data = event["text"], event["conversationID"], event["data"]
            elif kind == "error":
                turn.text, turn.error = event.get("text", ""), event.get("message") or ""
        return [turns[i] for i in sorted(turns)]

    @property
    def texts(self) -> list[str]:
        return [t.text for t in self.turns]

    def explain(self) -> str:
        tail = "\n".join(json.dumps(e)[:400] for e in self.events[-5:])
        return f"driver exit {self.returncode}\nlast events:\n{tail}\nstderr:\n{self.stderr[-4000:]}"


def _check_crash(run: ExtensionRun) -> ExtensionRun:
    # 0: all turns done; 1: a turn failed (reported as an error event). 2: unusable job; 3: driver bug;
    # anything else, or 1 without an error event: node itself failed.
    failed_turn = run.returncode == 1 and any(e.get("kind") == "error" and "turn" in e for e in run.events)
    if not (run.returncode == 0 or failed_turn):
        raise AssertionError(f"the extension driver did not run the job\n{run.explain()}")
    return run


def run_extension(job: Mapping[str, Any], timeout: float = 180) -> ExtensionRun:
    """Run the driver to the end (blocking). Failed turns are in the result; only a driver crash raises.
    Do not call it from a coroutine whose event loop also serves the back-end: use `arun_extension`."""
    ensure_npm_ci()
    result = subprocess.run(["node", str(DRIVER)], cwd=DRIVER_DIR, input=json.dumps(job), capture_output=True,
                            text=True, timeout=timeout, check=False)
    events = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    return _check_crash(ExtensionRun(events, result.returncode, result.stderr))


async def astream_extension(job: Mapping[str, Any], timeout: float = 180,
                             into: ExtensionRun | None = None) -> AsyncIterator[dict[str, Any]]:
    """Yield the driver's events as the driver prints them (to assert on streaming while it runs).
    Pass `into=ExtensionRun([], -1)` to also get the exit status and stderr once the iteration ends."""
    await asyncio.to_thread(ensure_npm_ci)
    process = await asyncio.create_subprocess_exec(
        "node", str(DRIVER), cwd=DRIVER_DIR, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, limit=256 * 1024 * 1024,
    )
    assert process.stdin and process.stdout and process.stderr
    process.stdin.write(json.dumps(job).encode())
    await process.stdin.drain()
    process.stdin.close()
    stderr_task = asyncio.create_task(process.stderr.read())
    deadline = asyncio.get_running_loop().time() + timeout
    try:
        while True:
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                raise TimeoutError(f"the extension driver ran longer than {timeout} s")
            line = await asyncio.wait_for(process.stdout.readline(), remaining)
            if not line:
                break
            if line.strip():
                event = json.loads(line)
                if into is not None:
                    into.events.append(event)
                yield event
        returncode = await process.wait()
        stderr = (await stderr_task).decode(errors="replace")
        if into is not None:
            into.returncode, into.stderr = returncode, stderr
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
        if not stderr_task.done():
            stderr_task.cancel()


async def arun_extension(job: Mapping[str, Any], timeout: float = 180) -> ExtensionRun:
    """`run_extension` for async tests (the event loop keeps serving while node runs)."""
    run = ExtensionRun([], -1)
    async for _ in astream_extension(job, timeout, into=run):
        pass
    return _check_crash(run)


def drive(job: Mapping[str, Any], timeout: float = 180) -> list[dict[str, Any]]:
    """Run a job and return its events; any failed turn fails the caller (AssertionError with the details)."""
    run = run_extension(job, timeout)
    if run.returncode != 0:
        raise AssertionError(f"the extension reported an error\n{run.explain()}")
    return run.events


# ---- the Lightspeed provider -----------------------------------------------------------------------------
@dataclass
class LightspeedReply:
    status: int
    headers: httpx.Headers
    chunks: list[tuple[float, str]]  # (seconds since the request was sent, decoded chunk)
    conversation_id: str
    request_body: dict[str, Any]
    request_headers: dict[str, str]

    @property
    def text(self) -> str:
        """What the chat shows: every chunk appended (also for non-2xx answers with a body, as the extension)."""
        return "".join(piece for _, piece in self.chunks)

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


def lightspeed_body(query: str, *, conversation_id: str, manifest: str | None = None, events: str | None = None,
                    logs: str | None = None, system_prompt: str = INSTRUCTIONS, model: str | None = None,
                    provider: str | None = None) -> dict[str, Any]:
    """The LightspeedQueryRequest the extension builds, keys in its order; `provider` only travels with `model`."""
    attachments = [
        {"content": content, "content_type": MIME_JSON, "attachment_type": kind}
        for content, kind in ((manifest, "api object"), (events, "event"), (logs, "log"))
        if content is not None
    ]
    body: dict[str, Any] = {"conversation_id": conversation_id, "attachments": attachments, "query": query,
                            "system_prompt": system_prompt}
    if model:
        body["model"] = model
        if provider:
            body["provider"] = provider
    return body


def _lightspeed_url(proxy_url: str) -> str:
    base = proxy_url.rstrip("/")
    if not base.endswith(EXTENSION_PREFIX):
        base += EXTENSION_PREFIX
    return base + "/v1/streaming_query"


def _lightspeed_headers(url: str, application: str, project: str, cookie: str | None,
                        origin: str | None) -> dict[str, str]:
    # getHeaders(application, true) minus what the browser drops (Origin, `Content-Length: -1`), plus what the
    # browser adds for a same-origin POST with credentials: Origin (the page's) and the session cookie.
    parsed = httpx.URL(url)
    headers = {
        "Content-Type": MIME_JSON,
        "Accept": MIME_JSON,
        "Argocd-Application-Name": application,
        "Argocd-Project-Name": project,
        "Origin": origin or f"{parsed.scheme}://{parsed.netloc.decode()}",
    }
    if cookie:
        headers["Cookie"] = cookie
    return headers


async def lightspeed_request(
    proxy_url: str,
    query: str,
    *,
    application: str = "argocd:guestbook",
    project: str = "default",
    conversation_id: str | None = None,
    manifest: str | None = None,
    events: str | None = None,
    logs: str | None = None,
    model: str | None = None,
    provider: str | None = None,
    system_prompt: str = INSTRUCTIONS,
    cookie: str | None = None,
    origin: str | None = None,
    timeout: float = 360.0,
) -> LightspeedReply:
    """POST `<proxy>/extensions/assistant/v1/streaming_query` as the extension's Lightspeed provider does.

    `proxy_url` is the proxy root or its extension URL (`proxy.url`). A new uuid4 `conversation_id` is made when
    none is given (the extension makes one on the first turn and reuses it); read it back from the reply. Each
    received chunk is decoded on its own (`TextDecoder().decode(chunk)` without `stream: true`, so a UTF-8
    character split across two chunks turns into U+FFFD, as in the browser) and timestamped."""
    url = _lightspeed_url(proxy_url)
    conversation_id = conversation_id or str(uuid.uuid4())
    body = lightspeed_body(query, conversation_id=conversation_id, manifest=manifest, events=events, logs=logs,
                           system_prompt=system_prompt, model=model, provider=provider)
    headers = _lightspeed_headers(url, application, project, cookie, origin)
    payload = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()  # JSON.stringify
    chunks: list[tuple[float, str]] = []
    async with httpx.AsyncClient(timeout=httpx.Timeout(timeout, connect=10.0)) as client:
        start = time.monotonic()
        async with client.stream("POST", url, content=payload, headers=headers) as response:
            async for raw in response.aiter_bytes():
                if raw:
                    chunks.append((time.monotonic() - start, raw.decode("utf-8", errors="replace")))
            return LightspeedReply(response.status_code, response.headers, chunks, conversation_id, body, headers)


def lightspeed_request_sync(proxy_url: str, query: str, **options: Any) -> LightspeedReply:
    """Blocking `lightspeed_request` (same arguments), for sync tests; not from inside a running event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(lightspeed_request(proxy_url, query, **options))
    raise RuntimeError("lightspeed_request_sync called inside an event loop; await lightspeed_request")
