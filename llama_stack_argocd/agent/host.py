"""How a front door finds the one agent core: the Responses provider of the same distribution hosts it.

The Agents and Lightspeed APIs depend on llama-stack's `responses` API and run their turns on the agent that
`inline::argocd-responses` builds. Any other Responses provider has no such agent; that is told at start-up, by
name, rather than as an AttributeError on the first question.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from llama_stack_argocd.agent.core import ArgoCDAgent


@runtime_checkable
class AgentHost(Protocol):
    """A provider that runs the Argo CD agent core (`inline::argocd-responses`)."""

    agent: ArgoCDAgent


class NoAgentHost(RuntimeError):
    """The distribution's Responses provider does not run the Argo CD agent."""


def hosted_agent(responses: object, front_door: str) -> ArgoCDAgent:
    """The agent core `responses` hosts; raises NoAgentHost, naming what to configure, when it hosts none."""
    if isinstance(responses, AgentHost) and isinstance(responses.agent, ArgoCDAgent):
        return responses.agent
    raise NoAgentHost(
        f"The {front_door} API runs on the Argo CD agent core, which the responses provider "
        f"{type(responses).__name__} does not host: configure providers.responses with provider_type "
        "inline::argocd-responses (module llama_stack_argocd)."
    )
