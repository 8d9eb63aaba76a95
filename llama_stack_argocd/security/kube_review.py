"""Direct clients without Argo CD in front: a Kubernetes bearer token, checked as OpenShift Lightspeed checks it.

A TokenReview says who the token belongs to; a SubjectAccessReview on a virtual path (`get` on
`/argocd-assistant-access` by default) says whether that user may use the assistant, so access is granted with
plain RBAC: a ClusterRole with `nonResourceURLs: ["/argocd-assistant-access"], verbs: ["get"]`.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

from llama_stack_argocd.context.kube import KubernetesSource
from llama_stack_argocd.context.settings import ContextSettings


class KubernetesTokenReviewer:
    def __init__(self, settings: ContextSettings, access_path: str = "/argocd-assistant-access") -> None:
        self._source = KubernetesSource(settings)
        self._timeout = settings.request_timeout_seconds
        self._access_path = access_path

    async def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        # Reviews are never stored; a unique name just tells them apart in the API server's audit log.
        body = {**body, "metadata": {"name": f"argocd-assistant-{uuid.uuid4().hex[:12]}"}}
        api = self._source.api
        url = api.configuration.host.rstrip("/") + path

        def call() -> Any:
            response = api.call_api(
                "POST", url, header_params={"Accept": "application/json", "Content-Type": "application/json"},
                body=body, _request_timeout=self._timeout,
            )
            response.read()
            return response

        response = await asyncio.to_thread(call)
        return json.loads(response.data) if response.status < 300 else {}

    async def review(self, token: str) -> tuple[str, str | None, tuple[str, ...]] | None:
        try:
            reviewed = await self._post("/apis/authentication.k8s.io/v1/tokenreviews", {
                "apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": {"token": token}})
            status = reviewed.get("status") or {}
            if not status.get("authenticated"):
                return None
            user = status.get("user") or {}
            username, uid, groups = user.get("username"), user.get("uid"), tuple(user.get("groups") or ())
            access = await self._post("/apis/authorization.k8s.io/v1/subjectaccessreviews", {
                "apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
                "spec": {"user": username, "uid": uid, "groups": list(groups),
                         "nonResourceAttributes": {"path": self._access_path, "verb": "get"}}})
        except Exception:  # noqa: BLE001 - an API we cannot ask is a token we cannot accept
            return None
        if not (access.get("status") or {}).get("allowed") or not username:
            return None
        return username, uid, groups
