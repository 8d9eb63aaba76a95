"""Agents, sessions and turns, kept in the distribution's KV store; each turn runs on the one agent core.

A session remembers the id of its last response, so the next turn continues that Responses chain: history,
tool results and already-seen attachments included. Records belong to the user who created them.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from llama_stack.core.storage.kvstore import kvstore_impl
from llama_stack_api.common.errors import ResourceNotFoundError

from llama_stack_argocd.agent.attachments import Attachment, classify
from llama_stack_argocd.agent.core import AgentRequest, ArgoCDAgent
from llama_stack_argocd.agent.generation import TurnFailure
from llama_stack_argocd.apis.agents.config import LegacyAgentsConfig
from llama_stack_argocd.apis.agents.models import (
    Agent,
    AgentConfig,
    CreateTurnRequest,
    Message,
    Page,
    Session,
    Turn,
)
from llama_stack_argocd.apis.agents.turns import TurnBuilder, render_turn
from llama_stack_argocd.caller import Caller


class LegacyAgentsImpl:
    def __init__(self, config: LegacyAgentsConfig, agent: ArgoCDAgent) -> None:
        self.config = config
        self.agent = agent

    async def initialize(self) -> None:
        self.store = await kvstore_impl(self.config.kvstore)

    async def shutdown(self) -> None:
        return None

    # -- records ---------------------------------------------------------------------------------------------

    async def _load(self, key: str, kind: str, name: str, caller: Caller) -> dict[str, Any]:
        raw = await self.store.get(key)
        record = json.loads(raw) if raw else None
        if record is None or record.get("owner") != caller.principal:
            raise ResourceNotFoundError(name, kind)
        return record

    async def _save(self, key: str, record: dict[str, Any]) -> None:
        await self.store.set(key, json.dumps(record, default=str))

    @staticmethod
    def _agent_key(agent_id: str) -> str:
        return f"agent:{agent_id}"

    @staticmethod
    def _session_key(agent_id: str, session_id: str) -> str:
        return f"session:{agent_id}:{session_id}"

    # -- agents ----------------------------------------------------------------------------------------------

    async def create_agent(self, config: AgentConfig, caller: Caller) -> str:
        agent_id = str(uuid.uuid4())
        record = {
            "agent_id": agent_id,
            # Stored as the model gets it: the instructions redacted (each turn redacts them again, at no loss).
            "agent_config": config.model_copy(
                update={"instructions": self.agent.redacted(config.instructions or "")}
            ).model_dump(mode="json"),
            "created_at": datetime.now(UTC).isoformat(),
            "owner": caller.principal,
        }
        await self._save(self._agent_key(agent_id), record)
        return agent_id

    async def get_agent(self, agent_id: str, caller: Caller) -> Agent:
        return Agent.model_validate(await self._load(self._agent_key(agent_id), "Agent", agent_id, caller))

    async def list_agents(self, caller: Caller) -> Page:
        records = [json.loads(v) for v in await self.store.values_in_range("agent:", "agent:\xff")]
        mine = [Agent.model_validate(r).model_dump(mode="json") for r in records if r.get("owner") == caller.principal]
        return Page(data=mine)

    async def delete_agent(self, agent_id: str, caller: Caller) -> None:
        await self._load(self._agent_key(agent_id), "Agent", agent_id, caller)
        for key in await self.store.keys_in_range(f"session:{agent_id}:", f"session:{agent_id}:\xff"):
            await self.store.delete(key)
        await self.store.delete(self._agent_key(agent_id))

    # -- sessions --------------------------------------------------------------------------------------------

    async def create_session(self, agent_id: str, session_name: str, caller: Caller) -> str:
        await self._load(self._agent_key(agent_id), "Agent", agent_id, caller)
        session_id = str(uuid.uuid4())
        record = {
            "session_id": session_id,
            "session_name": session_name,
            "started_at": datetime.now(UTC).isoformat(),
            "turns": [],
            "last_response_id": None,
            "owner": caller.principal,
        }
        await self._save(self._session_key(agent_id, session_id), record)
        return session_id

    async def get_session(self, agent_id: str, session_id: str, caller: Caller) -> Session:
        record = await self._load(self._session_key(agent_id, session_id), "Session", session_id, caller)
        return Session.model_validate(record)

    async def list_sessions(self, agent_id: str, caller: Caller) -> Page:
        await self._load(self._agent_key(agent_id), "Agent", agent_id, caller)
        values = await self.store.values_in_range(f"session:{agent_id}:", f"session:{agent_id}:\xff")
        sessions = [Session.model_validate(json.loads(v)).model_dump(mode="json") for v in values]
        return Page(data=sessions)

    async def delete_session(self, agent_id: str, session_id: str, caller: Caller) -> None:
        await self._load(self._session_key(agent_id, session_id), "Session", session_id, caller)
        await self.store.delete(self._session_key(agent_id, session_id))

    async def get_turn(self, agent_id: str, session_id: str, turn_id: str, caller: Caller) -> Turn:
        session = await self.get_session(agent_id, session_id, caller)
        for turn in session.turns:
            if turn.turn_id == turn_id:
                return turn
        raise ResourceNotFoundError(turn_id, "Turn")

    # -- turns -----------------------------------------------------------------------------------------------

    async def create_turn(
        self, agent_id: str, session_id: str, body: CreateTurnRequest, caller: Caller
    ) -> AsyncIterator[dict[str, Any]] | Turn:
        agent = await self.get_agent(agent_id, caller)
        session_key = self._session_key(agent_id, session_id)
        session = await self._load(session_key, "Session", session_id, caller)
        request = AgentRequest(
            model=agent.agent_config.model,
            question="\n\n".join(m.text() for m in body.messages if m.role == "user"),
            attachments=[
                Attachment(kind=classify(doc.text()), content=doc.text(), mime_type=doc.mime_type)
                for doc in body.documents
            ],
            instructions=agent.agent_config.instructions or None,
            previous_response_id=session["last_response_id"],
            caller=caller,
            entrypoint="agents",
        )
        events = await self.agent.start(request)
        # The session keeps the question as the agent redacted it (the user's messages, joined), never the raw text.
        stored = [Message(role="user", content=request.question or "")]
        builder = TurnBuilder(session_id=session_id, input_messages=stored)
        chunks = self._recorded(render_turn(events, builder), builder, session_key)
        if body.stream:
            return chunks
        async for _ in chunks:
            pass
        if builder.error:
            raise TurnFailure(builder.error, builder.error_status)
        return builder.turn()

    async def _recorded(
        self, chunks: AsyncIterator[dict[str, Any]], builder: TurnBuilder, session_key: str
    ) -> AsyncIterator[dict[str, Any]]:
        """Stream the chunks; once the turn is complete, store it and move the session to its last response."""
        async for chunk in chunks:
            yield chunk
        if builder.response_id and not builder.error:
            session = json.loads(await self.store.get(session_key) or "null")
            if session is not None:
                session["last_response_id"] = builder.response_id
                session["turns"].append(builder.turn().model_dump(mode="json"))
                await self._save(session_key, session)
