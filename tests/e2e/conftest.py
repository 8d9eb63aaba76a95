"""One real `llama stack run` per test module, wired to the Kubernetes stand-in and the scripted LLM.

`stack` is run.yaml as it is; a module that needs another distribution, environment or config starts its stacks
with `stack_with(...)` (tests/support/stack.py: StackStarter) instead of writing its own config and environment."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support import scripted_llm
from tests.support.stack import StackHandle, StackStarter


@pytest.fixture(scope="module")
def stack_with(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[StackStarter]:
    """Starts stacks with overrides; all are stopped when the module ends. A fixture whose stack uses another
    module fixture requests that one before `stack_with`, so that it is torn down after the stack."""
    starter = StackStarter(request.getfixturevalue, lambda: tmp_path_factory.mktemp("stack"))
    try:
        yield starter
    finally:
        starter.close()


llm = scripted_llm.module_fixture()


@pytest.fixture(autouse=True)
def _fresh_script(request: pytest.FixtureRequest) -> None:
    if "llm" in request.fixturenames:
        server = request.getfixturevalue("llm")
        server.script.clear()
        server.requests.clear()


@pytest.fixture(scope="module")
def stack(stack_with: StackStarter) -> StackHandle:
    return stack_with()
