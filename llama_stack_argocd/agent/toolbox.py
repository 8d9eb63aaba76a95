"""The tools the agent offers the model and runs itself: every tool of the configured tool groups.

Tools are listed from llama-stack's tool groups (our `argocd::context`, plus any MCP group the distribution
registers) and executed through llama-stack's tool runtime, so each tool keeps its own provider's scope rules.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from llama_stack_api import ListToolsRequest

from llama_stack_argocd.caller import Caller, acting_as
from llama_stack_argocd.observability.turns import tool_call


class Toolbox:
    def __init__(self, tool_groups: Any, tool_runtime: Any, toolgroup_ids: list[str]) -> None:
        self._tool_groups = tool_groups
        self._tool_runtime = tool_runtime
        self._toolgroup_ids = toolgroup_ids
        self._names: set[str] = set()
        self._needs_approval: set[str] = set()

    def __contains__(self, name: str) -> bool:
        return name in self._names

    def needs_approval(self, name: str) -> bool:
        """A tool that changes something (a bridged write tool): the user approves each call first."""
        return name in self._needs_approval

    async def definitions(self) -> tuple[list[dict[str, Any]], list[str]]:
        """Function-tool definitions for a Responses request, and the groups that offered none (a server down).

        llama-stack leaves a group it cannot list out of the listing (and lists it again next time), so an empty
        group is one whose tools cannot be used now; the agent tells the model, which tells the user.
        """
        tools: list[dict[str, Any]] = []
        missing: list[str] = []
        for group in self._toolgroup_ids:
            try:
                listed = (await self._tool_groups.list_tools(ListToolsRequest(toolgroup_id=group))).data
            except Exception:  # noqa: BLE001 - e.g. an MCP server that is down: answer with the other tools
                listed = []
            if not listed:
                missing.append(group)
            for tool in listed:
                self._names.add(tool.name)
                if (tool.metadata or {}).get("requires_approval"):
                    self._needs_approval.add(tool.name)
                tools.append(
                    {
                        "type": "function",
                        "name": tool.name,
                        "description": tool.description or "",
                        "parameters": tool.input_schema or {"type": "object", "properties": {}},
                    }
                )
        return tools, missing

    async def call(self, name: str, arguments: dict[str, Any]) -> tuple[str, bool]:
        """Run one tool; failures come back as a JSON error the model can read, never as an exception."""
        try:
            result = await self._tool_runtime.invoke_tool(tool_name=name, kwargs=arguments)
        except Exception as exc:  # noqa: BLE001
            return json.dumps({"error": "tool_failed", "message": f"{name} failed: {exc}"}), True
        content = result.content
        if not isinstance(content, str):
            content = json.dumps(content, default=str) if not hasattr(content, "text") else content.text
        return content, bool(result.error_message or (result.error_code or 0) > 0)

    async def call_as(
        self, caller: Caller | None, name: str, arguments: dict[str, Any], timeout: float
    ) -> tuple[str, bool]:
        """Run one tool on behalf of `caller` (its Application is the scope) within `timeout` seconds.

        Every front door that runs tools (the agent's loop, the MCP endpoint) goes through here, so the scope, the
        error shape and the time limit are the same everywhere.
        """
        with acting_as(caller), tool_call(name, name in self._names) as probe:
            try:
                probe[:] = await asyncio.wait_for(self.call(name, arguments), timeout)
            except TimeoutError:
                probe[:] = json.dumps({"error": "timeout", "message": f"{name} did not answer in time."}), True
            return probe[0], probe[1]
