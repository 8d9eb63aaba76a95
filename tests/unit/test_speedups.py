"""The inference router's per-tool TypeAdapter is shared once installed; this fails if llama-stack moves it."""

from __future__ import annotations

import inspect

import pytest
from llama_stack.core.routers import inference

from llama_stack_argocd.speedups import install_speedups

OpenAIChatCompletionToolParam = inference.OpenAIChatCompletionToolParam
TOOL = {"type": "function", "function": {"name": "argocd_application", "parameters": {"type": "object"}}}


def test_the_router_builds_its_tool_adapters_through_the_module_name():
    source = inspect.getsource(inference.InferenceRouter.openai_chat_completion)
    assert "TypeAdapter(OpenAIChatCompletionToolParam).validate_python(tool)" in source


def test_installed_the_adapter_is_built_once_and_still_validates():
    install_speedups()
    install_speedups()  # idempotent
    first = inference.TypeAdapter(OpenAIChatCompletionToolParam)
    assert first is inference.TypeAdapter(OpenAIChatCompletionToolParam)
    assert first.validate_python(TOOL)["function"]["name"] == "argocd_application"
    with pytest.raises(Exception):  # noqa: B017 - pydantic's ValidationError, as without the cache
        first.validate_python({"type": "function"})
    unhashable = inference.TypeAdapter(list[int], config=None)
    assert unhashable.validate_python([1]) == [1]


def test_the_models_table_lists_dynamic_models_from_the_request_provider_data():
    from llama_stack.core import request_headers
    from llama_stack.core.routing_tables.models import ModelsRoutingTable

    # every listing reaches it (llama-stack 0.7 from both list methods, OGX through `_get_all_models`)
    assert "await self._get_dynamic_models_from_provider_data()" in inspect.getsource(ModelsRoutingTable)
    assert '"__authenticated_user"' in inspect.getsource(request_headers.RequestProviderDataContext.__init__)


def test_installed_an_authenticated_user_alone_lists_no_dynamic_models():
    import asyncio
    from types import SimpleNamespace

    from llama_stack.core.datatypes import User
    from llama_stack.core.request_headers import NeedsRequestProviderData, RequestProviderDataContext
    from llama_stack.core.routing_tables.models import ModelsRoutingTable

    install_speedups()
    install_speedups()  # idempotent: wrapped once
    listed: list[str] = []

    class Provider(NeedsRequestProviderData):  # a remote provider taking per-request credentials, as openai does
        __provider_spec__ = SimpleNamespace(
            provider_data_validator="llama_stack.providers.remote.inference.openai.config.OpenAIProviderDataValidator")

        async def list_models(self):
            listed.append("called")
            return []

    table = ModelsRoutingTable.__new__(ModelsRoutingTable)
    table.impls_by_provider_id = {"openai": Provider()}
    user = User(principal="alice", attributes={})
    with RequestProviderDataContext(None, user):
        assert asyncio.run(table._get_dynamic_models_from_provider_data()) == []
    assert listed == []  # before: the authenticated user alone passed the validator and the provider was listed
    with RequestProviderDataContext({"openai_api_key": "sk-own"}, user):  # the caller's own credentials: listed
        asyncio.run(table._get_dynamic_models_from_provider_data())
    assert listed == ["called"]
