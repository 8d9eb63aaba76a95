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
