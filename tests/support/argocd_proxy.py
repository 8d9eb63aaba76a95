"""A loopback stand-in for argocd-server's proxy extension, as it treats `/extensions/assistant/...`.

It checks the Application and Project headers (400 otherwise), removes `Authorization` and `Cookie`, adds the
identity of the user it plays (`Argocd-Username`, `Argocd-User-Groups`, ...) and the configured service headers,
strips the `/extensions/assistant` prefix, and streams the answer back as it arrives.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

EXTENSION = "assistant"
_HOP = {"host", "content-length", "transfer-encoding", "connection", "keep-alive", "authorization", "cookie"}


@dataclass
class ArgoCDProxy:
    upstream: str
    username: str = "alice"
    groups: tuple[str, ...] = ("dev",)
    user_id: str = "alice-sub"
    service_headers: dict[str, str] = field(default_factory=dict)
    forwarded: list[dict[str, Any]] = field(default_factory=list)
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/extensions/{EXTENSION}"

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        parts = request.path.split("/", 3)
        if len(parts) < 3 or parts[1] != "extensions" or parts[2] != EXTENSION:
            return web.Response(status=404, text="Extension not found")
        app_name, project = request.headers.get("Argocd-Application-Name", ""), request.headers.get("Argocd-Project-Name")
        namespace, _, name = app_name.partition(":")
        if not (namespace and name and project):
            return web.Response(status=400, text="Invalid headers: Argocd-Application-Name and Argocd-Project-Name")
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP}
        headers.update({
            "Argocd-Username": self.username, "Argocd-User-Id": self.user_id,
            "Argocd-User-Groups": ",".join(self.groups), "Argocd-Namespace": "argocd",
            "Argocd-Target-Cluster-URL": "https://kubernetes.default.svc",
        })
        headers.update(self.service_headers)
        path = request.path_qs[len(f"/extensions/{EXTENSION}"):] or "/"
        self.forwarded.append({"method": request.method, "path": path, "headers": headers})
        body = await request.read()
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=300)) as session:
            async with session.request(request.method, self.upstream + path, headers=headers, data=body) as upstream:
                response = web.StreamResponse(status=upstream.status)
                for key in ("Content-Type", "Cache-Control"):
                    if key in upstream.headers:
                        response.headers[key] = upstream.headers[key]
                await response.prepare(request)
                async for chunk in upstream.content.iter_any():
                    await response.write(chunk)
                await response.write_eof()
                return response

    @contextmanager
    def serving(self) -> Iterator[ArgoCDProxy]:
        ready, state = threading.Event(), {}

        def run() -> None:
            async def main() -> None:
                runner = web.AppRunner(_app(self._handle))
                await runner.setup()
                site = web.TCPSite(runner, "127.0.0.1", self.port)
                await site.start()
                self.port = site._server.sockets[0].getsockname()[1]
                state["stop"] = asyncio.Event()
                state["loop"] = asyncio.get_running_loop()
                ready.set()
                await state["stop"].wait()
                await runner.cleanup()

            asyncio.run(main())

        thread = threading.Thread(target=run, name="argocd-proxy", daemon=True)
        thread.start()
        if not ready.wait(10):
            raise RuntimeError("the proxy stand-in did not start")
        try:
            yield self
        finally:
            state["loop"].call_soon_threadsafe(state["stop"].set)
            thread.join(10)


def _app(handler: Any) -> web.Application:
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    return app
