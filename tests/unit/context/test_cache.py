"""The short-lived read cache (context/cache.py): per Application and credentials, bounded, never keeping errors,
never handing out a shared object; and against the Kubernetes stand-in, that two Applications deploying to the same
namespace never share an answer and that rotated credentials read again."""

from __future__ import annotations

import asyncio

import kmock
import pytest

from llama_stack_argocd.context.cache import ReadCache
from llama_stack_argocd.context.errors import NotFound, Unavailable
from llama_stack_argocd.context.kube import KubernetesSource
from llama_stack_argocd.context.refs import AppRef, ResourceRef
from llama_stack_argocd.context.service import ContextService
from llama_stack_argocd.context.settings import ContextSettings
from tests.support import cluster as fx

A, B = AppRef(namespace="argocd", name="a"), AppRef(namespace="argocd", name="b")


class Counting:
    """A source answering every list with one Pod, counting the reads; `fail` makes the next read fail."""

    def __init__(self) -> None:
        self.reads: list[tuple[str, ...]] = []
        self.fail: Exception | None = None
        self.gate: asyncio.Event | None = None

    def for_application(self, app):
        return self

    def credentials_key(self) -> str:
        return "k"

    async def list(self, kind, namespace):
        self.reads.append(("list", kind, namespace))
        if self.gate is not None:
            await self.gate.wait()
        if self.fail is not None:
            error, self.fail = self.fail, None
            raise error
        return [{"kind": kind, "apiVersion": "v1", "metadata": {"name": "p", "namespace": namespace}}]

    async def get(self, kind, namespace, name, group=None):
        self.reads.append(("get", kind, namespace, name))
        return {"kind": kind, "metadata": {"name": name, "namespace": namespace}}


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def test_kept_per_application_and_per_credentials_until_it_expires():
    source, clock = Counting(), Clock()
    cache = ReadCache(3, clock=clock)
    await cache.bind(source, A, "k").list("Pod", "web")
    await cache.bind(source, A, "k").list("Pod", "web")
    assert len(source.reads) == 1
    await cache.bind(source, B, "k").list("Pod", "web")  # another Application: read for it
    await cache.bind(source, A, "other-credentials").list("Pod", "web")  # other credentials: read with them
    assert len(source.reads) == 3
    clock.now += 3.01
    await cache.bind(source, A, "k").list("Pod", "web")
    assert len(source.reads) == 4


async def test_a_listing_answers_a_get_of_one_of_its_objects():
    source = Counting()
    bound = ReadCache(3).bind(source, A, "k")
    await bound.list("Pod", "web")
    assert (await bound.get("Pod", "web", "p"))["metadata"]["name"] == "p"
    assert (await bound.get_metadata("Pod", "web", "p"))["metadata"]["name"] == "p"
    assert source.reads == [("list", "Pod", "web")]
    await bound.get("Pod", "web", "q")
    assert source.reads[-1] == ("get", "Pod", "web", "q")


async def test_errors_are_not_kept_and_answers_are_copies():
    source = Counting()
    bound = ReadCache(3).bind(source, A, "k")
    source.fail = Unavailable("down")
    with pytest.raises(Unavailable):
        await bound.list("Pod", "web")
    first = await bound.list("Pod", "web")  # read again: the failure was not kept
    first[0]["metadata"]["name"] = "changed by a caller"
    assert (await bound.list("Pod", "web"))[0]["metadata"]["name"] == "p"
    assert len(source.reads) == 2


async def test_identical_reads_in_flight_share_one_request_and_a_failure():
    source = Counting()
    source.gate = asyncio.Event()
    bound = ReadCache(3).bind(source, A, "k")
    source.fail = NotFound("gone")
    waiting = [asyncio.ensure_future(bound.list("Pod", "web")) for _ in range(5)]
    await asyncio.sleep(0.01)
    source.gate.set()
    outcomes = await asyncio.gather(*waiting, return_exceptions=True)
    assert len(source.reads) == 1 and all(isinstance(o, NotFound) for o in outcomes)


async def test_bounded_and_off_at_zero():
    source = Counting()
    cache = ReadCache(3, max_entries=4)
    bound = cache.bind(source, A, "k")
    for i in range(10):
        await bound.list("Pod", f"ns-{i}")
    assert len(cache) <= 4
    off = ReadCache(0)
    assert off.bind(source, A, "k") is source  # nothing kept: every read goes to the source


TWIN = "guestbook-twin"


@pytest.fixture(scope="module")
def twins():
    """The stand-in with a second Application deploying the same Deployment into the same namespace."""
    def seed(emulator):
        twin = fx._application()
        twin["metadata"] = {**twin["metadata"], "name": TWIN, "uid": "uid-app-twin"}
        emulator.objects[kmock.resource("argoproj.io", "v1alpha1", "applications"), fx.ARGOCD_NS, TWIN] = twin

    with fx.start_cluster(seed=seed) as handle:
        yield handle


async def test_two_applications_on_one_namespace_never_share_an_answer(twins):
    settings = ContextSettings(kubeconfig=twins.kubeconfig_path, read_cache_seconds=60)
    service = ContextService(KubernetesSource(settings), settings)
    deployment = ResourceRef(kind="Deployment", name=fx.DEPLOYMENT)
    before = twins.request_count()
    await service.containers(AppRef(namespace=fx.ARGOCD_NS, name=fx.APP), deployment)
    once = twins.paths_since(before)
    await service.containers(AppRef(namespace=fx.ARGOCD_NS, name=fx.APP), deployment)
    assert twins.paths_since(before) == once  # the same Application: answered from memory
    await service.containers(AppRef(namespace=fx.ARGOCD_NS, name=TWIN), deployment)
    twin_reads = twins.paths_since(before)[len(once):]
    pods = f"/api/v1/namespaces/{fx.APP_NS}/pods"
    assert any(p.endswith(pods) for p in once) and any(p.endswith(pods) for p in twin_reads)  # read for each
    assert any(p.endswith(f"/applications/{TWIN}") for p in twin_reads)


async def test_rotated_credentials_read_again(cluster):
    settings = ContextSettings(kubeconfig=cluster.kubeconfig_path, read_cache_seconds=60)
    source = KubernetesSource(settings)
    service = ContextService(source, settings)
    app = AppRef(namespace=fx.ARGOCD_NS, name=fx.APP)
    before = cluster.request_count()
    await service.application(app)
    await service.application(app)
    assert cluster.request_count() == before + 1
    source.api.configuration.api_key = {"authorization": "Bearer another-token"}
    await service.application(app)
    assert cluster.request_count() == before + 2
