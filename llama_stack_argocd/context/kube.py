"""`ClusterSource` over the Kubernetes API, with the official client.

The client's configuration loading (in-cluster service account or kubeconfig), TLS and auth are used as they are;
requests are plain REST reads with a timeout on every call, run in threads so independent reads overlap. Failures
become `ContextError`s that say what the back-end's own account is missing.
"""

from __future__ import annotations

import asyncio
import json
import os
from typing import Any
from urllib.parse import quote, urlencode

import urllib3
from kubernetes import client, config

from llama_stack_argocd.context.errors import AccessDenied, NotFound, Unavailable
from llama_stack_argocd.context.settings import ContextSettings
from llama_stack_argocd.context.source import resource_type


def _api_client(settings: ContextSettings) -> client.ApiClient:
    configuration = client.Configuration()
    if settings.kubeconfig:
        config.load_kube_config(settings.kubeconfig, context=settings.kube_context, client_configuration=configuration)
    elif os.environ.get("KUBERNETES_SERVICE_HOST"):
        config.load_incluster_config(client_configuration=configuration)
    else:
        config.load_kube_config(context=settings.kube_context, client_configuration=configuration)
    configuration.retries = 0
    return client.ApiClient(configuration)


class KubernetesSource:
    def __init__(self, settings: ContextSettings) -> None:
        self._settings = settings
        self._client: client.ApiClient | None = None

    @property
    def api(self) -> client.ApiClient:
        if self._client is None:
            try:
                self._client = _api_client(self._settings)
            except Exception as error:  # noqa: BLE001 - no kubeconfig, bad file...: say so to the model
                raise Unavailable(
                    f"No Kubernetes API is configured for the assistant: {error}",
                    hint="Run it in-cluster with its service account, or set KUBECONFIG.",
                ) from error
        return self._client

    def _path(self, kind: str, namespace: str | None, name: str | None = None) -> str:
        _, rtype = resource_type(kind)
        base = f"/apis/{rtype.group}/{rtype.version}" if rtype.group else f"/api/{rtype.version}"
        if rtype.namespaced and namespace:
            base += f"/namespaces/{quote(namespace)}"
        base += f"/{rtype.plural}"
        return f"{base}/{quote(name)}" if name else base

    async def _request(self, path: str, what: str, accept: str = "application/json") -> bytes:
        api = self.api
        url = api.configuration.host.rstrip("/") + path

        def call() -> Any:
            response = api.call_api(
                "GET", url, header_params={"Accept": accept}, _request_timeout=self._settings.request_timeout_seconds
            )
            response.read()
            return response

        try:
            response = await asyncio.to_thread(call)
        except (urllib3.exceptions.HTTPError, OSError) as error:
            raise Unavailable(
                f"The Kubernetes API did not answer reading {what}: {type(error).__name__}.",
                hint="It may be down or slow; try again shortly.",
            ) from error
        status = response.status
        if status == 404:
            raise NotFound(f"{what} does not exist.", hint="Check the kind, name and namespace.")
        if status in (401, 403):
            raise AccessDenied(
                f"The assistant's service account may not read {what} (HTTP {status}).",
                hint="Grant get/list on that resource to the assistant's ClusterRole.",
            )
        if status >= 400:
            raise Unavailable(f"The Kubernetes API answered HTTP {status} reading {what}.")
        return response.data

    async def get(self, kind: str, namespace: str | None, name: str) -> dict[str, Any]:
        where = f"{namespace}/" if namespace else ""
        return json.loads(await self._request(self._path(kind, namespace, name), f"{kind} {where}{name}"))

    async def list(self, kind: str, namespace: str | None) -> list[dict[str, Any]]:
        where = f" in namespace {namespace}" if namespace else ""
        data = json.loads(await self._request(self._path(kind, namespace), f"the {kind} list{where}"))
        canonical, rtype = resource_type(kind)
        items = data.get("items") or []
        for item in items:  # list items carry no kind/apiVersion
            item.setdefault("kind", canonical)
            item.setdefault("apiVersion", rtype.api_version)
        return items

    async def log(self, namespace: str, pod: str, container: str | None, tail_lines: int, previous: bool) -> str:
        params = {"tailLines": tail_lines, "previous": str(previous).lower()}
        if container:
            params["container"] = container
        path = f"{self._path('Pod', namespace, pod)}/log?{urlencode(params)}"
        what = f"the {'previous ' if previous else ''}log of Pod {namespace}/{pod}" + (
            f" container {container}" if container else ""
        )
        return (await self._request(path, what, accept="text/plain")).decode("utf-8", errors="replace")

    async def ping(self) -> None:
        await self._request("/version", "the API server version")
