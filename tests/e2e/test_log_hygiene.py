"""The server log of a real `llama stack run` behind the proxy secret: refused requests are one short line each,
no request body, no model output, no traceback, no long line."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest

from llama_stack_argocd.logs import MAX_LINE_CHARS
from tests.support.http import MODEL
from tests.support.scripted_llm import ScriptedLLM, Text
from tests.support.stack import StackHandle, StackStarter

SECRET = "log-hygiene-proxy-secret"
BODY_MARK = "BODYMARK7f3a"  # in every request body below
OUTPUT_MARK = "MODELSAID9c2e"  # in every model answer
AUTH = {"Authorization": f"Bearer {SECRET}", "Argocd-Username": "alice"}


@pytest.fixture(scope="module")
def served(stack_with: StackStarter) -> Iterator[tuple[StackHandle, ScriptedLLM]]:
    with ScriptedLLM(chunk_delay=0) as llm, stack_with("distributions/argocd/proxy-trust.yaml", model=llm, cluster=None,
                                                       env={"ARGOCD_ASSISTANT_PROXY_SECRET": SECRET}) as handle:
        yield handle, llm


REFUSED = [  # (headers, path, body): what a refused request looks like on each kind of route
    ({}, "/v1/responses", {"model": MODEL, "input": BODY_MARK}),  # no proxy secret: 401
    (AUTH, "/v1/responses", {"model": MODEL, "input": 5, "note": BODY_MARK}),  # invalid: 400
    (AUTH, "/v1/query", {"query": 7, "note": BODY_MARK}),  # invalid: 422
    (AUTH, "/v1/agents", {"agent_config": {"model": ""}, "note": BODY_MARK}),
    (AUTH, "/v1/chat/completions", {"model": MODEL, "messages": BODY_MARK * 400_000}),  # a 5 MB invalid body
]


@pytest.fixture(scope="module")
def log(served) -> str:
    stack, llm = served
    before = len(stack.log_text().splitlines())
    for headers, path, body in REFUSED:
        answer = httpx.post(f"{stack.base_url}{path}", headers=headers, json=body, timeout=60)
        assert 400 <= answer.status_code < 500, (path, answer.status_code)
    llm.push(Text(f"The pod {OUTPUT_MARK} crashes."), Text(f"Again {OUTPUT_MARK}."))
    ok = httpx.post(f"{stack.base_url}/v1/responses", headers=AUTH, timeout=60,
                    json={"model": MODEL, "input": f"why? {BODY_MARK}"})
    assert ok.status_code == 200 and OUTPUT_MARK in ok.text
    streamed = httpx.post(f"{stack.base_url}/v1/query", headers=AUTH, timeout=60, json={"query": f"and? {BODY_MARK}"})
    assert streamed.status_code == 200 and OUTPUT_MARK in streamed.text
    return "\n".join(stack.log_text().splitlines()[before:])


def test_no_request_body_and_no_model_output_in_the_log(log):
    assert BODY_MARK not in log and OUTPUT_MARK not in log


def test_refused_requests_write_no_traceback(log):
    assert "Traceback" not in log and 'File "' not in log


def test_every_line_is_bounded(log):
    assert max(len(line) for line in log.splitlines()) <= MAX_LINE_CHARS + 100


def test_each_refused_request_is_one_record(log):
    refused = [line for line in log.splitlines() if re.search(r'"POST \S+ HTTP/1.1" 4\d\d ', line)]  # access lines
    assert len(refused) == len(REFUSED), refused
    assert log.count("request failed") <= len(REFUSED)
