"""The toolbox keeps a group's listing for a while (every turn used to list every group again), but never an empty
or failed listing, never past its time, and never one listed with another caller's own Argo CD token."""

from __future__ import annotations

import hashlib
from types import SimpleNamespace

from llama_stack_api import ListToolsRequest, ToolDef

from llama_stack_argocd.agent.toolbox import Toolbox
from llama_stack_argocd.caller import Caller, acting_as

TOKEN = "argocd-token-of-alice-0123456789"


class Groups:
    """llama-stack's tool groups table: answers each group from `answers` (a list of tools, or an exception)."""

    def __init__(self, **answers: object) -> None:
        self.answers = dict(answers)
        self.asked: list[str] = []

    async def list_tools(self, request: ListToolsRequest):
        self.asked.append(request.toolgroup_id)
        answer = self.answers[request.toolgroup_id.replace("::", "_")]
        if isinstance(answer, Exception):
            raise answer
        return SimpleNamespace(data=[ToolDef(toolgroup_id=request.toolgroup_id, name=n, description=n) for n in answer])


async def test_a_listing_is_kept_between_turns():
    groups = Groups(argocd_context=["argocd_application"])
    toolbox = Toolbox(groups, None, ["argocd::context"])
    for _ in range(3):
        tools, missing = await toolbox.definitions()
        assert [t["name"] for t in tools] == ["argocd_application"] and missing == []
    assert groups.asked == ["argocd::context"]


async def test_a_failed_or_empty_listing_is_asked_again_next_turn():
    groups = Groups(argocd_context=["argocd_application"], mcp_argocd=ConnectionError("down"))
    toolbox = Toolbox(groups, None, ["argocd::context", "mcp::argocd"])
    assert (await toolbox.definitions())[1] == ["mcp::argocd"]
    groups.answers["mcp_argocd"] = []
    assert (await toolbox.definitions())[1] == ["mcp::argocd"]
    groups.answers["mcp_argocd"] = ["get_application"]
    tools, missing = await toolbox.definitions()
    assert [t["name"] for t in tools] == ["argocd_application", "get_application"] and missing == []
    assert groups.asked.count("mcp::argocd") == 3 and groups.asked.count("argocd::context") == 1


async def test_a_listing_expires():
    groups = Groups(argocd_context=["argocd_application"])
    toolbox = Toolbox(groups, None, ["argocd::context"], listing_ttl_seconds=0)
    await toolbox.definitions()
    groups.answers["argocd_context"] = ["argocd_application", "argocd_resource_events"]
    assert [t["name"] for t in (await toolbox.definitions())[0]] == ["argocd_application", "argocd_resource_events"]


async def test_a_caller_with_its_own_token_gets_its_own_listing_keyed_by_a_hash():
    groups = Groups(mcp_argocd=["get_application"])
    toolbox = Toolbox(groups, None, ["mcp::argocd"])
    await toolbox.definitions()
    with acting_as(Caller(username="alice").with_argocd_token(TOKEN)):
        await toolbox.definitions()
        await toolbox.definitions()
    assert groups.asked == ["mcp::argocd", "mcp::argocd"]
    keys = [key for _, key in toolbox._listings]
    assert keys == [None, hashlib.sha256(TOKEN.encode()).hexdigest()] and TOKEN not in repr(toolbox._listings)
