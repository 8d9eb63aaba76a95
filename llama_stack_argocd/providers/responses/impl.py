"""`inline::argocd-responses`: the builtin Responses implementation with the Argo CD agent in front of it.

Only `create_openai_response` changes; retrieval, listing, deletion and storage stay llama-stack's own.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from llama_stack.core.storage.datatypes import SqlStoreReference
from llama_stack.core.storage.kvstore import kvstore_impl
from llama_stack.providers.inline.responses.builtin.impl import BuiltinResponsesImpl
from llama_stack_api import URL, CreateResponseRequest, OpenAIResponseError, OpenAIResponseObject

from llama_stack_argocd import hosting
from llama_stack_argocd.agent.composer import ContextComposer
from llama_stack_argocd.agent.core import AgentRequest, ArgoCDAgent
from llama_stack_argocd.agent.state import ConversationMemory
from llama_stack_argocd.agent.toolbox import Toolbox
from llama_stack_argocd.apis.overlays import serve_tools, verify_route_overlays
from llama_stack_argocd.bridge.credentials import split_mcp_tools
from llama_stack_argocd.context.evidence import EvidenceGatherer
from llama_stack_argocd.context.redaction import Redactor
from llama_stack_argocd.providers.mcp_client.impl import PROVIDER_ID as MCP_PROVIDER_ID
from llama_stack_argocd.providers.responses.config import ArgoCDResponsesConfig
from llama_stack_argocd.providers.responses.dialect import agent_request_from, collect_response, stream_events
from llama_stack_argocd.providers.responses.upstream import ReportingInference
from llama_stack_argocd.providers.tool_runtime.impl import running_context_service
from llama_stack_argocd.providers.toolgroups import BRIDGE_TOOLGROUP, CONTEXT_TOOLGROUP
from llama_stack_argocd.security.quota import TABLE as QUOTA_TABLE
from llama_stack_argocd.security.quota import QuotaKeeper
from llama_stack_argocd.security.urls import URLPolicy


class ArgoCDResponsesImpl(BuiltinResponsesImpl):
    config: ArgoCDResponsesConfig

    async def initialize(self) -> None:
        verify_route_overlays()
        serve_tools(self.tool_groups_api)
        self.inference_api = ReportingInference(self.inference_api)  # a broken model stream says why (upstream.py)
        await super().initialize()
        filters = self.config.redaction_filters
        allowed = self.config.allowed_urls or []
        self.url_policy = URLPolicy(
            [self.config.argocd_mcp_url, *(allowed.split(",") if isinstance(allowed, str) else allowed)]
        )
        toolgroups = list(self.config.toolgroups)
        if self.config.argocd_mcp_url:
            await self._register_mcp_bridge(self.config.argocd_mcp_url)
            toolgroups.append(BRIDGE_TOOLGROUP)
        self.agent = ArgoCDAgent(
            backend=BuiltinRounds(self),
            toolbox=Toolbox(self.tool_groups_api, self.tool_runtime_api, toolgroups),
            memory=ConversationMemory(await kvstore_impl(self.config.persistence.agent_state)),
            composer=ContextComposer(
                lambda: Redactor(filters),
                context_windows=self.config.agent.context_windows,
                default_context_window=self.config.agent.default_context_window,
            ),
            settings=self.config.agent,
            quota=QuotaKeeper(await self._usage_store(), self.config.agent.quota),
            evidence=self._evidence_gatherer,
        )
        self._gatherer: EvidenceGatherer | None = None

    def _evidence_gatherer(self) -> EvidenceGatherer | None:
        """The agent's reads before the first round go through the tools' own context service (built on first
        use, like the tools'), so they share its scope checks and read cache; only with `argocd::context` offered."""
        if self._gatherer is None and CONTEXT_TOOLGROUP in self.config.toolgroups:
            service = running_context_service()
            if service is not None:
                self._gatherer = EvidenceGatherer(service, self.config.agent.evidence)
        return self._gatherer

    async def _usage_store(self) -> Any:
        """Quota usage lives beside the stored responses, on the same SQL backend (PostgreSQL when scaled out)."""
        backend = self.config.persistence.responses.backend
        return await hosting.sql_store(SqlStoreReference(table_name=QUOTA_TABLE, backend=backend))

    async def _register_mcp_bridge(self, url: str) -> None:
        """Register mcp-for-argocd as a tool group with an endpoint, so llama-stack lists its tools lazily and tries
        again after a failed listing (a server that is down at start-up is picked up once it answers)."""
        with contextlib.suppress(Exception):  # not registered yet
            await self.tool_groups_api.unregister_toolgroup(BRIDGE_TOOLGROUP)
        await self.tool_groups_api.register_tool_group(
            toolgroup_id=BRIDGE_TOOLGROUP, provider_id=MCP_PROVIDER_ID, mcp_endpoint=URL(uri=url)
        )

    async def create_openai_response(
        self, request: CreateResponseRequest
    ) -> OpenAIResponseObject | AsyncIterator[Any]:
        # Before any connection: the bridge's own tools (carrying the caller's Argo CD token) go only to the
        # configured server, so only what would be handed to llama-stack is checked.
        self.url_policy.check_tools(split_mcp_tools(request.tools or [])[0])
        self.url_policy.check_input(request.input)
        return await self.run_agent(agent_request_from(request), stream=bool(request.stream))

    async def run_agent(self, request: AgentRequest, stream: bool) -> OpenAIResponseObject | AsyncIterator[Any]:
        """Entry point shared by the Responses routes and the other dialects' routes."""
        events = await self.agent.start(request)
        if stream:
            return stream_events(events)
        return await collect_response(events)


class BuiltinRounds:
    """The agent core's backend (agent/backend.py) over the builtin: its own `create_openai_response` (the
    provider's overrides it with the agent) and its responses store."""

    def __init__(self, builtin: BuiltinResponsesImpl) -> None:
        self._builtin = builtin

    async def create(self, request: CreateResponseRequest) -> AsyncIterator[Any]:
        stream = await BuiltinResponsesImpl.create_openai_response(self._builtin, request)
        if not isinstance(stream, AsyncIterator):  # the agent always asks for a stream
            raise TypeError("the builtin answered a streamed round with one response")
        return stream

    async def history(self, response_id: str) -> list[Any]:
        """What continuing from `response_id` replays: its stored input, then its output."""
        try:
            stored = await self._builtin.responses_store.get_response_object(response_id)
        except Exception:  # noqa: BLE001 - an unknown id fails in the round itself, with llama-stack's message
            return []
        return [*stored.input, *stored.output]

    async def settle(self, response_id: str, message: str) -> None:
        """A round abandoned mid-stream is stored as failed, never left `in_progress`."""
        try:
            stored = await self._builtin.responses_store.get_response_object(response_id)
            if stored.status in ("in_progress", "queued"):
                error = OpenAIResponseError(code="server_error", message=message)
                await self._builtin.responses_store.update_response_object(
                    stored.to_response_object().model_copy(update={"status": "failed", "error": error})
                )
        except Exception:  # noqa: BLE001 - nothing stored yet for this round (it failed before persisting)
            return

    async def store(self, response: OpenAIResponseObject) -> None:
        """A response the agent changed, stored as it ended: a round stopped in a loop (incomplete, with the text it
        kept), or the last round with the diagnosis block first."""
        try:
            await self._builtin.responses_store.update_response_object(response)
        except Exception:  # noqa: BLE001 - not persisted yet: the chain then continues from the previous round
            return
