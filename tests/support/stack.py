"""Runs the real `llama stack run` for end-to-end tests: 127.0.0.1, a free port, its own state, always stopped."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml

from tests.support.scripted_llm import free_port

ROOT = Path(__file__).resolve().parents[2]
LLAMA = Path(sys.executable).with_name("llama")


@dataclass
class StackHandle:
    config: Path
    env: dict[str, str]
    state_dir: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path and self.log_path.exists() else ""

    def start(self, timeout: float = 90) -> None:
        self.log_path = self.state_dir / f"server-{int(time.time() * 1000)}.log"
        env = {**os.environ, "SQLITE_STORE_DIR": str(self.state_dir), "LLAMA_STACK_PORT": str(self.port),
               "LLAMA_STACK_ARGOCD_APIS_DIR": str(ROOT / "llama_stack_argocd/apis/specs"), **self.env}
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                [str(LLAMA), "stack", "run", str(self.config), "--port", str(self.port)],
                stdout=log, stderr=subprocess.STDOUT, env=env, cwd=ROOT, start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"llama stack run exited ({self.process.returncode}):\n{self.log_text()[-4000:]}")
            try:
                if httpx.get(f"{self.base_url}/v1/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"llama stack run was not healthy within {timeout}s:\n{self.log_text()[-4000:]}")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(5)

    def restart(self) -> None:
        self.stop()
        self.start()


def write_config(template: Path, directory: Path, **overrides: Any) -> Path:
    """A copy of a run config with `server.host` on loopback and dotted-key overrides applied."""
    config = yaml.safe_load(template.read_text())
    config.setdefault("server", {})["host"] = "127.0.0.1"
    for dotted, value in overrides.items():  # "providers.responses.0.config.agent" style paths
        node: Any = config
        *parents, last = [int(k) if k.isdigit() else k for k in dotted.split(".")]
        for key in parents:
            node = node[key] if isinstance(node, list) else node.setdefault(key, {})
        node[last] = value
    path = directory / template.name
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


@contextmanager
def running_stack(config: Path, env: dict[str, str] | None = None, state_dir: Path | None = None) -> Iterator[StackHandle]:
    with tempfile.TemporaryDirectory(prefix="stack-state-") as tmp:
        handle = StackHandle(config=config, env=env or {}, state_dir=state_dir or Path(tmp))
        handle.start()
        try:
            yield handle
        finally:
            handle.stop()
