"""Fixtures shared by unit and end-to-end tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.cluster import ClusterHandle, start_cluster


@pytest.fixture(scope="session")
def cluster() -> Iterator[ClusterHandle]:
    with start_cluster() as handle:
        yield handle
