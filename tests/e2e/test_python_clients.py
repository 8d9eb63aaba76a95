"""The Python clients people point at the distribution: the `openai` SDK and `llama-stack-client` 0.7."""

from __future__ import annotations

from llama_stack_client import LlamaStackClient
from openai import OpenAI

from tests.support import cluster as fx
from tests.support.http import EXTENSION_HEADERS, MODEL
from tests.support.scripted_llm import Text, ToolCalls


def test_openai_sdk_streams_and_chains(stack, llm):
    client = OpenAI(base_url=f"{stack.base_url}/v1", api_key="none", default_headers=EXTENSION_HEADERS)
    llm.push(ToolCalls([("argocd_containers", {"kind": "Deployment", "name": fx.DEPLOYMENT})]), Text("It crashes."))
    stream = client.responses.create(model=MODEL, input="Why is guestbook degraded?", stream=True)
    events = list(stream)
    text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    final = next(e.response for e in events if e.type == "response.completed")
    assert text == "It crashes."
    assert [item.type for item in final.output][:1] == ["mcp_call"]

    second = client.responses.create(model=MODEL, input="What did I ask?", previous_response_id=final.id)
    assert second.output_text.startswith("You asked: What did I ask?")
    assert "Why is guestbook degraded?" in str(llm.requests[-1]["body"]["messages"])


def test_llama_stack_client_lists_models_and_tools_and_answers(stack, llm):
    client = LlamaStackClient(base_url=stack.base_url, default_headers=EXTENSION_HEADERS)
    assert MODEL in [m.id for m in client.models.list()]
    tools = client.get("/v1/tools", cast_to=object, options={"params": {"toolgroup_id": "argocd::context"}})
    assert "argocd_application" in {t["name"] for t in tools["data"]}
    llm.push(ToolCalls([("argocd_application", {})]), Text("Out of sync at 3f2a9c1."))
    response = client.responses.create(model=MODEL, input="Status?", stream=False)
    assert response.output_text == "Out of sync at 3f2a9c1."
    assert response.metadata["argocd_tools_called"] == "argocd_application"
