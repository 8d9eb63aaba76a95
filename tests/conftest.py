"""Fixtures shared by unit and end-to-end tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.argocd_api import ArgoCDApiHandle, start_argocd_api
from tests.support.cluster import ClusterHandle, forget_all_requests, start_cluster
from tests.support.npm import install_needed_in_background
from tests.support.scripted_llm import ScriptedLLM


def pytest_collection_finish(session: pytest.Session) -> None:
    """The Node packages the collected tests use install in the background (tests/support/npm.py)."""
    if not session.config.option.collectonly:
        install_needed_in_background()


@pytest.fixture(autouse=True)
def _stand_ins_forget_requests() -> None:
    """Each test starts with the Kubernetes stand-ins' request histories empty (tests/support/cluster.py says why)."""
    forget_all_requests()


@pytest.fixture(scope="session")
def session_cluster() -> Iterator[ClusterHandle]:
    """The one Kubernetes stand-in of the session (a module may override `cluster`; this name stays the shared one)."""
    with start_cluster() as handle:
        yield handle


@pytest.fixture(scope="session")
def cluster(session_cluster: ClusterHandle) -> ClusterHandle:
    return session_cluster


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
