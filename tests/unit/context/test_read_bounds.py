"""Every Kubernetes read is bounded in size and time, whatever the API server sends (a container's own log is the
attacker's input: a workload of the Application writes it). A log keeps its newest bytes; an object or a listing past
the bound is refused with a clear error; a response that drips forever ends at the read timeout, and the thread
reading it ends with it (no download goes on after the turn gave up). The same for argocd-server as the source."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import kmock
import pytest

from llama_stack_argocd.context.argocd_api import ArgoCDSource
from llama_stack_argocd.context.errors import Unavailable
from llama_stack_argocd.context.kube import KubernetesSource
from llama_stack_argocd.context.refs import AppRef
from llama_stack_argocd.context.settings import HARD_MAX_LOG_BYTES, HARD_MAX_READ_BYTES, ContextSettings
from tests.support import cluster as fx
from tests.support.cluster import write_kubeconfig

NS, POD = "loud", "chatty"
NEWEST = "2026-11-25T06:40:00Z FATAL the line that explains the crash"


def _seed(emulator) -> None:
    plain = kmock.headers({"Content-Type": "text/plain; charset=utf-8"})
    # one line with no newline at all, far past the bound, then the newest line
    flood = ("x" * (HARD_MAX_LOG_BYTES * 3) + "\n" + NEWEST + "\n").encode()
    emulator[f"get /api/v1/namespaces/{NS}/pods/{POD}/log"] << plain << flood
    big = {"data": {"blob": "y" * (HARD_MAX_READ_BYTES + 1024)}}
    emulator.objects[kmock.resource("", "v1", "configmaps"), NS, "huge"] = {
        "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "huge", "namespace": NS}, **big}


@pytest.fixture(scope="module")
def loud() -> Iterator[fx.ClusterHandle]:
    with fx.start_cluster(_seed) as handle:
        yield handle


def source_for(kubeconfig: str, **settings) -> KubernetesSource:
    return KubernetesSource(ContextSettings(kubeconfig=kubeconfig, **settings))


def test_a_flooding_log_keeps_its_newest_bytes_only(loud):
    text = asyncio.run(source_for(loud.kubeconfig_path).log(NS, POD, None, 100, False))
    assert len(text.encode()) <= HARD_MAX_LOG_BYTES
    assert text.rstrip("\n").endswith(NEWEST)


def test_an_object_past_the_bound_is_refused_saying_so(loud):
    with pytest.raises(Unavailable, match="more than"):
        asyncio.run(source_for(loud.kubeconfig_path).get("ConfigMap", NS, "huge"))
    with pytest.raises(Unavailable, match="more than"):
        asyncio.run(source_for(loud.kubeconfig_path).list("ConfigMap", NS))


class Drip:
    """An API server that answers headers, then one byte every 20 ms forever; `closed` is set when the client hangs
    up."""

    def __init__(self) -> None:
        self.closed = threading.Event()
        self.url = ""
        self._ready = threading.Event()
        self._loop = asyncio.new_event_loop()
        threading.Thread(target=self._run, daemon=True, name="drip").start()
        assert self._ready.wait(10)

    def _run(self) -> None:
        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n")
            try:
                while True:
                    writer.write(b"1\r\nz\r\n")
                    await writer.drain()
                    await asyncio.sleep(0.02)
            except (ConnectionError, OSError):
                pass
            finally:
                self.closed.set()
                writer.close()

        async def start() -> None:
            server = await asyncio.start_server(serve, "127.0.0.1", 0)
            self.url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
            self._ready.set()

        self._loop.run_until_complete(start())
        self._loop.run_forever()

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)


def _kubernetes_log(url: str):
    source = source_for(write_kubeconfig(url), request_timeout_seconds=1)
    return source.log(NS, POD, None, 100, False)


def _argocd_application(url: str):
    settings = ContextSettings(source="argocd", argocd={"server_url": url, "api_token": "t"}, request_timeout_seconds=1)
    return ArgoCDSource(settings).for_application(AppRef(namespace="argocd", name="drip")).get_application("argocd",
                                                                                                         "drip")


@pytest.mark.parametrize("read", [_kubernetes_log, _argocd_application], ids=["kubernetes", "argocd-server"])
def test_a_dripping_answer_ends_at_the_timeout_and_so_does_its_download(read):
    drip = Drip()
    try:
        with pytest.raises(Unavailable, match="timed out"):
            asyncio.run(asyncio.wait_for(read(drip.url), 30))
        assert drip.closed.wait(10), "the read went on downloading after it gave up"
    finally:
        drip.stop()
