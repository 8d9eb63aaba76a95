"""The real mcp-for-argocd server (npm `argocd-mcp` 0.9.0), run with node on loopback for end-to-end tests.

It reads Argo CD through whatever base URL and token a connection's headers carry (the bridge sends the Argo CD
API stand-in's), so it starts with no Argo CD settings of its own. `npm ci` in tests/clients/argocd-mcp installs
it the first time it is needed. With `auth_token` it runs as 0.9 asks for an exposed listener: `MCP_AUTH_TOKEN` set,
every request (but `/healthz`) must carry `Authorization: Bearer <token>`; `args` adds flags such as
`--allowed-host-header NAME`. It always binds 127.0.0.1 unless `args` name another `--bind-address`.

    with start_argocd_mcp(auth_token="s3cr3t") as mcp:      # http://127.0.0.1:<port>/mcp, stopped at the end
        ... mcp.url ...
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from tests.support.npm import needed, npm_ci
from tests.support.scripted_llm import free_port

PEER_DIR = needed(Path(__file__).resolve().parents[1] / "clients" / "argocd-mcp")
ENTRY = PEER_DIR / "node_modules" / "argocd-mcp" / "dist" / "index.js"


@dataclass
class ArgoCDMCPHandle:
    url: str
    process: subprocess.Popen
    log_path: Path

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")


def bridge_env(argocd_api: Any, mcp_url: str) -> dict[str, str]:
    """The environment that points a distribution's MCP bridge at `mcp_url`, reading the Argo CD API stand-in."""
    return {"ARGOCD_MCP_URL": mcp_url, "ARGOCD_SERVER_URL": argocd_api.url,
            "ARGOCD_API_TOKEN_FILE": argocd_api.token_file()}


@contextmanager
def start_argocd_mcp(transport: str = "http", env: dict[str, str] | None = None, auth_token: str | None = None,
                     args: Sequence[str] = ()) -> Iterator[ArgoCDMCPHandle]:
    """`argocd-mcp http` (streamable HTTP at /mcp) or `argocd-mcp sse` (/sse) on 127.0.0.1 and a free port.

    Raises RuntimeError with the server's own output when it refuses to start (e.g. a wider bind without a token).
    """
    npm_ci(PEER_DIR)
    port = free_port()
    log_path = Path(tempfile.mkstemp(prefix="argocd-mcp-", suffix=".log")[1])
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("ARGOCD_", "MCP_"))}
    if auth_token is not None:
        clean["MCP_AUTH_TOKEN"] = auth_token
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            ["node", str(ENTRY), transport, "--port", str(port), *args],
            cwd=PEER_DIR, env={**clean, **(env or {})}, stdout=log, stderr=subprocess.STDOUT,
        )
    path = "/mcp" if transport == "http" else "/sse"
    handle = ArgoCDMCPHandle(f"http://127.0.0.1:{port}{path}", process, log_path)
    try:
        _wait_listening(handle, port)
        yield handle
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        log_path.unlink(missing_ok=True)


def _wait_listening(handle: ArgoCDMCPHandle, port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if handle.process.poll() is not None:
            raise RuntimeError(f"argocd-mcp exited with {handle.process.returncode}:\n{handle.log_text()}")
        try:
            httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)  # answered before any token or Host check
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError(f"argocd-mcp did not listen on port {port} within {timeout} s:\n{handle.log_text()}")
