"""A front door finds the agent core on the Responses provider, or is told at start-up what to configure."""

from __future__ import annotations

import pytest

from llama_stack_argocd.agent.core import ArgoCDAgent
from llama_stack_argocd.agent.host import NoAgentHost, hosted_agent


class BuiltinResponses:
    """Stands for llama-stack's own Responses provider: no agent core."""


class WrongAgent:
    agent = object()


def test_the_agent_of_the_argocd_responses_provider_is_found():
    host = type("ArgoCDResponsesImpl", (), {})()
    host.agent = ArgoCDAgent.__new__(ArgoCDAgent)
    assert hosted_agent(host, "Lightspeed") is host.agent


@pytest.mark.parametrize("responses", [BuiltinResponses(), WrongAgent(), None])
def test_any_other_responses_provider_is_refused_by_name(responses):
    with pytest.raises(NoAgentHost) as refused:
        hosted_agent(responses, "Agents")
    assert "The Agents API" in str(refused.value)
    assert type(responses).__name__ in str(refused.value)
    assert "inline::argocd-responses" in str(refused.value)
