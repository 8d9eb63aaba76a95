"""The tools the agent offers the model and runs itself: every tool of the configured tool groups.

Tools are listed from llama-stack's tool groups (our `argocd::context`, plus any MCP group the distribution
registers) and executed through llama-stack's tool runtime, so each tool keeps its own provider's scope rules.

A group's listing is kept for `LISTING_TTL_SECONDS` per process (every turn used to list every group again), keyed by
the caller's own Argo CD token when there is one (a bridged server may list differently for it; the key is a hash,
never the token). An empty or failed listing is never kept, so a server that comes back is offered on the next turn.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections import OrderedDict
from typing import Any

from llama_stack_api import ListToolsRequest

from llama_stack_argocd.caller import Caller, acting_as, current_caller
from llama_stack_argocd.observability.turns import tool_call

LISTING_TTL_SECONDS = 30.0
_MAX_LISTINGS = 256  # kept listings (groups x callers with their own token); the oldest goes first


class Toolbox:
    def __init__(self, tool_groups: Any, tool_runtime: Any, toolgroup_ids: list[str],
                 listing_ttl_seconds: float = LISTING_TTL_SECONDS) -> None:
        self._tool_groups = tool_groups
        self._tool_runtime = tool_runtime
        self._toolgroup_ids = toolgroup_ids
        self._names: set[str] = set()
        self._needs_approval: set[str] = set()
        self._ttl = listing_ttl_seconds
        self._listings: OrderedDict[tuple[str, str | None], tuple[float, list[Any]]] = OrderedDict()

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
        listings = await asyncio.gather(*(self._listing(group) for group in self._toolgroup_ids))
        for group, listed in zip(self._toolgroup_ids, listings, strict=True):
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

    async def _listing(self, group: str) -> list[Any]:
        """One group's tools: kept from a recent listing, else listed now (empty when the group cannot list)."""
        key = (group, _credential_key())
        now = time.monotonic()
        kept = self._listings.get(key)
        if kept is not None and kept[0] > now:
            return kept[1]
        try:
            listed = list((await self._tool_groups.list_tools(ListToolsRequest(toolgroup_id=group))).data)
        except Exception:  # noqa: BLE001 - e.g. an MCP server that is down: answer with the other tools
            listed = []
        self._listings.pop(key, None)
        if listed and self._ttl > 0:
            self._listings[key] = (now + self._ttl, listed)
            while len(self._listings) > _MAX_LISTINGS:
                self._listings.popitem(last=False)
        return listed

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


def _credential_key() -> str | None:
    """What a listing may depend on besides the group: the caller's own Argo CD token, hashed (None without one)."""
    caller = current_caller()
    if caller is None or caller.argocd_token is None:
        return None
    return hashlib.sha256(caller.argocd_token.get_secret_value().encode()).hexdigest()
