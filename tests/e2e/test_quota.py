"""Per-user quotas: a clear 429 with what is left, counted per user, reported as OLS `available_quotas`."""

from __future__ import annotations

import httpx
import pytest

from llama_stack_argocd.observability.audit import parse
from tests.support.http import EXTENSION_HEADERS, MODEL
from tests.support.stack import StackHandle, StackStarter


@pytest.fixture(scope="module")
def stack(stack_with: StackStarter) -> StackHandle:
    return stack_with(**{"providers.responses.0.config.agent.quota": {"requests_per_hour": 2}})


def test_requests_beyond_the_quota_get_429_per_user(stack, llm):
    first = httpx.post(f"{stack.base_url}/v1/query", headers=EXTENSION_HEADERS, json={"query": "one"}, timeout=60)
    assert first.json()["available_quotas"] == {"UserRequestQuota": 1}
    second = httpx.post(f"{stack.base_url}/v1/responses", headers=EXTENSION_HEADERS, timeout=60,
                        json={"model": MODEL, "input": "two"})
    assert second.status_code == 200
    third = httpx.post(f"{stack.base_url}/v1/query", headers=EXTENSION_HEADERS, json={"query": "three"}, timeout=60)
    assert third.status_code == 429
    assert "UserRequestQuota" in third.text
    other = {**EXTENSION_HEADERS, "Argocd-Username": "bob"}
    assert httpx.post(f"{stack.base_url}/v1/query", headers=other, json={"query": "hi"}, timeout=60).status_code == 200


def test_audit_event_per_turn_without_content(stack, llm):
    httpx.post(f"{stack.base_url}/v1/query", headers={**EXTENSION_HEADERS, "Argocd-Username": "carol"},
               json={"query": "the secret question"}, timeout=60)
    mine = [e for e in map(parse, stack.log_text().splitlines()) if e and e["user_name"] == "carol"]
    assert len(mine) == 1
    assert mine[0] | {"dialect": "lightspeed", "application": "argocd:guestbook", "status": "completed",
                      "input_tokens": 10} == mine[0]
    assert "the secret question" not in stack.log_text()
