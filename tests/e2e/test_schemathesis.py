"""A bounded schemathesis run against the server's own OpenAPI: no generated request may end in a 5xx.

`make fuzz` runs a longer one (more examples, every operation of our routes).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx

# The routes this project serves or adjusts. Left out: llama-stack's own schemas, which have dangling refs and
# constructs schemathesis cannot generate from (the Responses request model among them; tests/e2e covers it).
OUR_ROUTES = (
    r"^/(v1/(query|streaming_query|feedback(/status)?|agents.*|openai/v1/models|models"
    r")|liveness|readiness|authorized)$"
)


def schemathesis(schema: str, base_url: str, *options: str, examples: str = "8") -> None:
    st = Path(sys.executable).with_name("st")
    result = subprocess.run(
        [str(st), "run", schema, "--url", base_url,
         "--checks", "not_a_server_error", "--max-examples", os.environ.get("FUZZ_EXAMPLES", examples),
         "--phases", "examples,fuzzing", "--seed", os.environ.get("FUZZ_SEED", "20261125"),
         "--request-timeout", "30", "--workers", "1", *options],
        capture_output=True, text=True, timeout=600,
    )
    print(result.stdout[-1500:])
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert "Server error" not in result.stdout


def test_generated_requests_never_get_a_server_error(stack):
    schemathesis(f"{stack.base_url}/openapi.json", stack.base_url, "--include-path-regex", OUR_ROUTES,
                 "-H", "Argocd-Application-Name: argocd:guestbook", "-H", "Argocd-Project-Name: default",
                 "-H", "Argocd-Username: fuzzer")


# The identity headers argocd-server sets, as free strings: schemathesis sends them absent, empty, oversized,
# with commas, odd characters and anything else a header can carry, on every operation below.
IDENTITY_HEADERS = ("Argocd-Application-Name", "Argocd-Project-Name", "Argocd-Username", "Argocd-User-Id",
                    "Argocd-User-Groups")
MCP_ACCEPT = "application/json, text/event-stream"


def _headers(identity: bool = True) -> list[dict[str, Any]]:
    if not identity:
        return []
    return [{"name": name, "in": "header", "required": False, "schema": {"type": "string"}}
            for name in IDENTITY_HEADERS]


def _body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def mcp_openapi(tools: list[dict[str, Any]], identity: bool) -> dict[str, Any]:
    """An OpenAPI document for the MCP endpoint (it has none: JSON-RPC over one POST): every JSON-RPC method a
    stateless client sends, `tools/call` of each tool with that tool's own argument schema as `tools/list` gives
    it, any other object too; and the probes, the listing and a Lightspeed question, all with identity headers."""
    calls = [{"type": "object", "required": ["name", "arguments"], "properties": {
        "name": {"enum": [tool["name"]]}, "arguments": tool["inputSchema"]}} for tool in tools]
    required = ["jsonrpc", "id", "method"] if identity else ["jsonrpc", "id", "method", "params"]
    request = {"type": "object", "required": required, "properties": {
        "jsonrpc": {"enum": ["2.0"]}, "id": {"type": "integer"},
        "method": {"enum": ["tools/call", "tools/list", "initialize", "ping", "resources/list", "nonsense"]
                   if identity else ["tools/call"]},
        "params": {"anyOf": [*calls, {"type": "object"}] if identity else calls}}}
    accept = {"name": "Accept", "in": "header", "required": True, "schema": {"enum": [MCP_ACCEPT]}}
    ok = {"200": {"description": "answered"}}
    return {
        "openapi": "3.0.3", "info": {"title": "argocd mcp and identity headers", "version": "1"},
        "paths": {
            "/v1/argocd/mcp": {"post": {"operationId": "mcp", "parameters": [accept, *_headers(identity)],
                                        "requestBody": _body({"anyOf": [request, {"type": "array", "items": request},
                                                                        {}]} if identity else request),
                                        "responses": ok}},
            **({
                "/v1/models": {"get": {"operationId": "models", "parameters": _headers(), "responses": ok}},
                "/v1/health": {"get": {"operationId": "health", "parameters": _headers(), "responses": ok}},
                "/v1/query": {"post": {"operationId": "query", "parameters": _headers(), "responses": ok,
                                       "requestBody": _body({"type": "object", "required": ["query"],
                                                             "properties": {"query": {"type": "string"}}})}},
            } if identity else {}),
        },
    }


def test_the_mcp_endpoint_and_any_identity_header_shape_never_get_a_server_error(stack, tmp_path):
    """Tool calls of generated arguments as a well-named caller (they reach the tools, which answer or refuse
    them as results), then any body and every identity header shape on the MCP endpoint, the probes, the listing and a
    question (valid and invalid data both)."""
    listed = httpx.post(f"{stack.base_url}/v1/argocd/mcp", timeout=30,
                        headers={"Accept": MCP_ACCEPT, "Argocd-Application-Name": "argocd:guestbook"},
                        json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
    tools = listed.json()["result"]["tools"]
    assert len(tools) == 6
    calls = tmp_path / "mcp-calls.json"
    calls.write_text(json.dumps(mcp_openapi(tools, identity=False)))
    har = tmp_path / "calls.har"
    schemathesis(str(calls), stack.base_url, "--mode", "positive", "--report", "har", "--report-har-path", str(har),
                 "-H", "Argocd-Application-Name: argocd:guestbook", "-H", "Argocd-Project-Name: default",
                 "-H", "Argocd-Username: fuzzer", examples="40")
    answers = [e["response"]["content"].get("text", "") for e in json.loads(har.read_text())["log"]["entries"]]
    ran = [a for a in answers if '"result"' in a]  # the tool answered (its result, or its error as a result)
    assert len(ran) >= 10, answers[:5]
    shapes = tmp_path / "identity-shapes.json"
    shapes.write_text(json.dumps(mcp_openapi(tools, identity=True)))
    schemathesis(str(shapes), stack.base_url, examples="25")
