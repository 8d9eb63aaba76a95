"""The legacy Agents API (`/v1/agents`, sessions, turns), removed from llama-stack 0.4+ and still the
Assistant for Argo CD's default provider. A thin dialect over the Argo CD agent core."""

from __future__ import annotations

from typing import Annotated, Any, Protocol

from fastapi import APIRouter, Body, Depends, Request, Response
from llama_stack_api import Api, ProviderSpec
from llama_stack_api.router_utils import ExceptionTranslatingRoute

from llama_stack_argocd.apis.legacy_agents.models import (
    Agent,
    AgentCreated,
    CreateAgentRequest,
    CreateSessionRequest,
    CreateTurnRequest,
    Page,
    Session,
    SessionCreated,
)
from llama_stack_argocd.apis.identity import body_within_limit, caller_for
from llama_stack_argocd.apis.overlays import streaming_or_object
from llama_stack_argocd.apis.spec import inline_provider

API_NAME = "legacy_agents"


class LegacyAgents(Protocol):
    """Marker protocol: routes are defined in `create_router`."""


def available_providers() -> list[ProviderSpec]:
    return inline_provider(
        API_NAME, "inline::argocd-legacy-agents", __name__, "LegacyAgentsConfig",
        "The legacy Agents API on the Argo CD agent core.", needs=[Api.responses],
    )


async def get_provider_impl(config: Any, deps: dict[Any, Any]) -> Any:
    from llama_stack_argocd.agent.host import hosted_agent
    from llama_stack_argocd.apis.legacy_agents.impl import LegacyAgentsImpl

    impl = LegacyAgentsImpl(config, hosted_agent(deps[Api.responses], "Agents"))
    await impl.initialize()
    return impl


def create_router(impl: Any) -> APIRouter:
    router = APIRouter(prefix="/v1/agents", tags=["Agents (legacy)"], route_class=ExceptionTranslatingRoute,
                       dependencies=[Depends(body_within_limit)])

    @router.post("", response_model=AgentCreated)
    async def create_agent(request: Request, body: Annotated[CreateAgentRequest, Body()]) -> AgentCreated:
        return AgentCreated(agent_id=await impl.create_agent(body.agent_config, caller_for(request)))

    @router.get("", response_model=Page)
    async def list_agents(request: Request) -> Page:
        return await impl.list_agents(caller_for(request))

    @router.get("/{agent_id}", response_model=Agent)
    async def get_agent(request: Request, agent_id: str) -> Agent:
        return await impl.get_agent(agent_id, caller_for(request))

    @router.delete("/{agent_id}", status_code=204)
    async def delete_agent(request: Request, agent_id: str) -> Response:
        await impl.delete_agent(agent_id, caller_for(request))
        return Response(status_code=204)

    @router.post("/{agent_id}/session", response_model=SessionCreated)
    async def create_session(
        request: Request, agent_id: str, body: Annotated[CreateSessionRequest, Body()]
    ) -> SessionCreated:
        return SessionCreated(session_id=await impl.create_session(agent_id, body.session_name, caller_for(request)))

    @router.get("/{agent_id}/sessions", response_model=Page)
    async def list_sessions(request: Request, agent_id: str) -> Page:
        return await impl.list_sessions(agent_id, caller_for(request))

    @router.get("/{agent_id}/session/{session_id}", response_model=Session)
    async def get_session(request: Request, agent_id: str, session_id: str) -> Session:
        return await impl.get_session(agent_id, session_id, caller_for(request))

    @router.delete("/{agent_id}/session/{session_id}", status_code=204)
    async def delete_session(request: Request, agent_id: str, session_id: str) -> Response:
        await impl.delete_session(agent_id, session_id, caller_for(request))
        return Response(status_code=204)

    @router.post("/{agent_id}/session/{session_id}/turn", response_model=None)
    async def create_turn(
        request: Request, agent_id: str, session_id: str, body: Annotated[CreateTurnRequest, Body()]
    ) -> Any:
        return streaming_or_object(await impl.create_turn(agent_id, session_id, body, caller_for(request)))

    @router.get("/{agent_id}/session/{session_id}/turn/{turn_id}")
    async def get_turn(request: Request, agent_id: str, session_id: str, turn_id: str) -> Any:
        return await impl.get_turn(agent_id, session_id, turn_id, caller_for(request))

    return router
