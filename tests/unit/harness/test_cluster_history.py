"""The Kubernetes stand-in drops kmock's request history (which it would otherwise scan again for every request, per
route) and still counts: between tests on demand, continuously for servers nobody asserts on."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.support import cluster as fx
from tests.support.cluster import KMOCK_HISTORY, start_cluster

POD_LOG = f"/api/v1/namespaces/{fx.APP_NS}/pods/{fx.HEALTHY_POD}/log"


def test_kmock_still_keeps_its_history_in_the_list_we_clear():
    with start_cluster() as cluster:
        httpx.get(cluster.url + POD_LOG)
        history = getattr(cluster.emulator, KMOCK_HISTORY)
        assert isinstance(history, list) and len(history) == 1 == len(cluster.emulator)


def test_forgetting_keeps_the_count_and_later_marks():
    with start_cluster() as cluster:
        for _ in range(3):
            assert httpx.get(cluster.url + POD_LOG).status_code == 200
        early = cluster.request_count()
        cluster.forget_requests()
        assert len(cluster.emulator) == 0 and cluster.request_count() == early == 3
        with pytest.raises(ValueError, match="dropped"):
            cluster.paths_since(1)
        mark = cluster.request_count()
        httpx.get(cluster.url + f"/api/v1/namespaces/{fx.APP_NS}/pods")
        assert cluster.request_count() == 4
        assert [p.split("//", 1)[1].partition("/")[2] for p in cluster.paths_since(mark)] == [
            f"api/v1/namespaces/{fx.APP_NS}/pods"]
        # the routes still answer after their history is gone
        assert httpx.get(cluster.url + POD_LOG).text == fx.LOGS[(fx.APP_NS, fx.HEALTHY_POD)][0]


def test_a_server_without_history_drops_it_by_itself_and_counts():
    with start_cluster(keep_requests=False) as cluster:
        for _ in range(5):
            assert httpx.get(cluster.url + POD_LOG).status_code == 200
        deadline = time.monotonic() + 10
        while len(getattr(cluster.emulator, KMOCK_HISTORY)) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(getattr(cluster.emulator, KMOCK_HISTORY)) == 0
        assert cluster.request_count() == 5
