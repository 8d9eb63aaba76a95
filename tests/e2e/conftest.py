"""Real `llama stack run` processes, wired to the Kubernetes stand-in and the scripted LLM.

`stack` is run.yaml as it is: one process for every module that keeps the session's `llm` and `cluster` (starting
the host costs seconds of CPU); a module that overrides either gets its own. A module that needs another
distribution, environment or config starts its stacks with `stack_with(...)` (tests/support/stack.py:
StackStarter) instead of writing its own config and environment; those live as long as the module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.cluster import ClusterHandle
from tests.support.scripted_llm import ScriptedLLM
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


@pytest.fixture(scope="session")
def session_llm() -> Iterator[ScriptedLLM]:
    """The scripted model of the session: the shared `stack` answers from it, so it outlives every module."""
    with ScriptedLLM().serving() as server:
        yield server


@pytest.fixture(scope="module")
def llm(session_llm: ScriptedLLM) -> ScriptedLLM:
    return session_llm


@pytest.fixture(autouse=True)
def _fresh_script(request: pytest.FixtureRequest) -> None:
    """Each test starts with an empty script and request log; the session's model also with its default pace (a
    test may slow it down)."""
    if "llm" in request.fixturenames:
        server = request.getfixturevalue("llm")
        server.script.clear()
        server.requests.clear()
        if server is request.getfixturevalue("session_llm"):
            server.chunk_delay = ScriptedLLM.chunk_delay


@pytest.fixture(scope="session")
def session_stack(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
                  session_llm: ScriptedLLM, session_cluster: ClusterHandle) -> Iterator[StackHandle]:
    """run.yaml on the session's model and cluster, started when a module first asks for `stack`."""
    starter = StackStarter(request.getfixturevalue, lambda: tmp_path_factory.mktemp("stack"))
    try:
        yield starter(model=session_llm, cluster=session_cluster)
    finally:
        starter.close()


@pytest.fixture(scope="module")
def stack(request: pytest.FixtureRequest, llm: ScriptedLLM, cluster: ClusterHandle) -> StackHandle:
    """The shared run.yaml stack, or one of the module's own when the module overrides `llm` or `cluster`. Later
    modules use the shared one too: a test may restart it, but one that stops or kills its stack, or reads its whole
    log, starts its own with `stack_with()`."""
    if llm is request.getfixturevalue("session_llm") and cluster is request.getfixturevalue("session_cluster"):
        return request.getfixturevalue("session_stack")
    starter: StackStarter = request.getfixturevalue("stack_with")
    return starter()
