"""Agents, sessions and turns, kept in the distribution's KV store; each turn runs on the one agent core.

A session remembers the id of its last response, so the next turn continues that Responses chain: history,
tool results and already-seen attachments included. Records belong to the user who created them.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from llama_stack.core.storage.kvstore import kvstore_impl
from llama_stack_api.common.errors import ResourceNotFoundError

from llama_stack_argocd.agent.attachments import Attachment, classify
from llama_stack_argocd.agent.core import AgentRequest, ArgoCDAgent
from llama_stack_argocd.agent.generation import TurnFailure
from llama_stack_argocd.apis.legacy_agents.config import LegacyAgentsConfig
from llama_stack_argocd.apis.legacy_agents.models import (
    Agent,
    AgentConfig,
    CreateTurnRequest,
    Message,
    Page,
    Session,
    Turn,
)
from llama_stack_argocd.apis.legacy_agents.turns import TurnBuilder, render_turn
from llama_stack_argocd.apis.records import OwnedRecords, Record
from llama_stack_argocd.caller import Caller


class LegacyAgentsImpl:
    def __init__(self, config: LegacyAgentsConfig, agent: ArgoCDAgent) -> None:
        self.config = config
        self.agent = agent

    async def initialize(self) -> None:
        store = await kvstore_impl(self.config.kvstore)
        self.agents = OwnedRecords(store, "agent", lambda agent_id: ResourceNotFoundError(agent_id, "Agent"))
        # agent -> its sessions: `session:<agent_id>:<session_id>`
        self.sessions = OwnedRecords(store, "session", lambda session_id: ResourceNotFoundError(session_id, "Session"))

    async def shutdown(self) -> None:
        return None

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
        }
        await self.agents.create(agent_id, owner=caller.principal, record=record)
        return agent_id

    async def get_agent(self, agent_id: str, caller: Caller) -> Agent:
        return Agent.model_validate(await self.agents.get(agent_id, owner=caller.principal))

    async def list_agents(self, caller: Caller) -> Page:
        mine = await self.agents.owned_by(caller.principal)
        return Page(data=[Agent.model_validate(r).model_dump(mode="json") for r in mine])

    async def delete_agent(self, agent_id: str, caller: Caller) -> None:
        await self.agents.get(agent_id, owner=caller.principal)
        await self.sessions.purge(agent_id)
        await self.agents.delete(agent_id, owner=caller.principal)

    # -- sessions --------------------------------------------------------------------------------------------

    async def create_session(self, agent_id: str, session_name: str, caller: Caller) -> str:
        await self.agents.get(agent_id, owner=caller.principal)
        session_id = str(uuid.uuid4())
        record = {
            "session_id": session_id,
            "session_name": session_name,
            "started_at": datetime.now(UTC).isoformat(),
            "turns": [],
            "last_response_id": None,
        }
        await self.sessions.create(agent_id, session_id, owner=caller.principal, record=record)
        return session_id

    async def get_session(self, agent_id: str, session_id: str, caller: Caller) -> Session:
        return Session.model_validate(await self.sessions.get(agent_id, session_id, owner=caller.principal))

    async def list_sessions(self, agent_id: str, caller: Caller) -> Page:
        await self.agents.get(agent_id, owner=caller.principal)
        sessions = await self.sessions.owned_by(caller.principal, agent_id)
        return Page(data=[Session.model_validate(r).model_dump(mode="json") for r in sessions])

    async def delete_session(self, agent_id: str, session_id: str, caller: Caller) -> None:
        await self.sessions.delete(agent_id, session_id, owner=caller.principal)

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
        session = await self.sessions.get(agent_id, session_id, owner=caller.principal)
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
        chunks = self._recorded(render_turn(events, builder), builder, (agent_id, session_id), caller)
        if body.stream:
            return chunks
        async for _ in chunks:
            pass
        if builder.error:
            raise TurnFailure(builder.error, builder.error_status)
        return builder.turn()

    async def _recorded(
        self, chunks: AsyncIterator[dict[str, Any]], builder: TurnBuilder, session: tuple[str, str], caller: Caller
    ) -> AsyncIterator[dict[str, Any]]:
        """Stream the chunks; once the turn is complete, store it and move the session to its last response (the
        session as it is then: one deleted meanwhile stays deleted)."""
        async for chunk in chunks:
            yield chunk
        if builder.response_id and not builder.error:
            response_id, turn = builder.response_id, builder.turn().model_dump(mode="json")

            def append(record: Record) -> None:
                record["last_response_id"] = response_id
                record["turns"].append(turn)

            await self.sessions.update(*session, owner=caller.principal, change=append)
