"""One real `llama stack run` (run.yaml) per test module, wired to the Kubernetes stand-in and the scripted LLM."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.cluster import ClusterHandle
from tests.support.scripted_llm import ScriptedLLM
from tests.support.stack import ROOT, StackHandle, running_stack, write_config


@pytest.fixture(scope="module")
def llm() -> Iterator[ScriptedLLM]:
    with ScriptedLLM().serving() as server:
        yield server


@pytest.fixture(autouse=True)
def _fresh_script(request: pytest.FixtureRequest) -> None:
    if "llm" in request.fixturenames:
        server = request.getfixturevalue("llm")
        server.script.clear()
        server.requests.clear()


@pytest.fixture(scope="module")
def stack(cluster: ClusterHandle, llm: ScriptedLLM, tmp_path_factory: pytest.TempPathFactory) -> Iterator[StackHandle]:
    config = write_config(ROOT / "run.yaml", tmp_path_factory.mktemp("config"))
    env = {"OPENAI_BASE_URL": llm.url, "OPENAI_API_KEY": "sk-test", **cluster.kubeconfig_env()}
    with running_stack(config, env) as handle:
        yield handle
