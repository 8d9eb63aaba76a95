"""Fixtures shared by unit and end-to-end tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import pytest

from tests.support.argocd_api import ArgoCDApiHandle, start_argocd_api
from tests.support.cluster import ClusterHandle, start_cluster
from tests.support.scripted_llm import ScriptedLLM
from tests.support.stack import StackHandle, start_stack


@pytest.fixture(scope="session")
def cluster() -> Iterator[ClusterHandle]:
    with start_cluster() as handle:
        yield handle


@pytest.fixture
def stack_factory() -> Iterator[Callable[..., StackHandle]]:
    """`stack_factory(config_path, env=None, port=None, state_dir=None)` starts a real `llama stack run`
    (see tests/support/stack.py); every stack it started is stopped when the test ends, passed or failed."""
    handles: list[StackHandle] = []

    def start(config_path: Path | str, env: Mapping[str, str | None] | None = None, port: int | None = None,
              state_dir: Path | str | None = None) -> StackHandle:
        handle = start_stack(config_path, env, port=port, state_dir=state_dir)
        handles.append(handle)
        return handle

    yield start
    for handle in reversed(handles):
        handle.close()


@pytest.fixture
def scripted_llm() -> Iterator[ScriptedLLM]:
    """A fresh scripted OpenAI-compatible model for one test (tests/support/scripted_llm.py)."""
    with ScriptedLLM() as server:
        yield server


@pytest.fixture(scope="session")
def argocd_api() -> Iterator[ArgoCDApiHandle]:
    """The argocd-server API stand-in (tests/support/argocd_api.py), serving the same fixtures as `cluster`."""
    with start_argocd_api() as handle:
        yield handle
