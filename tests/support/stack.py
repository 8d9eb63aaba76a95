"""Runs the real `llama stack run` for end-to-end tests: 127.0.0.1, a free port, its own state, always stopped.

    with start_stack(config, env={"OPENAI_BASE_URL": llm.url}) as stack:   # waits for GET /v1/health == 200
        httpx.get(f"{stack.base_url}/v1/models")
        stack.restart()                                                     # same port, same state directory
    a, b = start_stacks((config, env), (config, env))                       # replicas booting at once

In tests, the `stack_with(...)` fixture (StackStarter, below) writes the config and the environment from the
module's fixtures (the scripted model, the cluster stand-in) and stops every stack it started.

The process gets its own session (so stop() ends llama.cpp threads and any children too), dies with the test
process (PR_SET_PDEATHSIG) and is stopped at interpreter exit if a test forgot to.
"""

from __future__ import annotations

import atexit
import enum
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, Self

import httpx
import yaml

from tests.support.processes import stop_group
from tests.support.scripted_llm import free_port

ROOT = Path(__file__).resolve().parents[2]
# STACK_HOST_VENV names another venv whose server the stacks run: one with OGX (`make .venv-ogx`) starts `ogx run`;
# unset, the tests' own venv starts `llama stack run`. The tests themselves always run in their own venv (HTTP only).
HOST_VENV = Path(os.environ.get("STACK_HOST_VENV") or Path(sys.executable).parent.parent)
OGX = HOST_VENV / "bin" / "ogx"
ON_OGX = OGX.exists()


def server_command(config: Path, port: int) -> list[str]:
    """The host's command for one server of `config` on `port` (OGX refuses plain HTTP without --insecure)."""
    if ON_OGX:
        return [str(OGX), "run", str(config), "--insecure", "--port", str(port)]
    return [str(HOST_VENV / "bin" / "llama"), "stack", "run", str(config), "--port", str(port)]
START_TIMEOUT = float(os.environ.get("STACK_START_TIMEOUT", "90"))

_RUNNING: set[StackHandle] = set()  # started and not yet stopped, stopped at exit if a test forgot


@atexit.register
def _stop_leftovers() -> None:
    for handle in list(_RUNNING):
        handle.stop()


def _die_with_parent() -> list[str]:
    """A command prefix setting PR_SET_PDEATHSIG (util-linux setpriv), so the server dies with the test process.

    The signal follows the thread that started the child: only used from the main thread."""
    setpriv = shutil.which("setpriv")
    if setpriv is None or threading.current_thread() is not threading.main_thread():
        return []
    return [setpriv, "--pdeathsig", "TERM", "--"]


@dataclass(eq=False)
class StackHandle:
    """One `llama stack run <config> --port <port>`; `env` values of None unset inherited variables."""

    config: Path
    env: Mapping[str, str | None]
    state_dir: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None
    owns_state_dir: bool = False
    starts: int = 0
    cwd: Path = ROOT  # where `llama stack run` starts (a user may start it from any directory)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log_text(self) -> str:
        """The output of the current (or last) run."""
        return self.log_path.read_text(errors="replace") if self.log_path and self.log_path.exists() else ""

    def _environment(self) -> dict[str, str]:
        env = {**os.environ, "SQLITE_STORE_DIR": str(self.state_dir), "LLAMA_STACK_PORT": str(self.port),
               "OGX_PORT": str(self.port),
               "LLAMA_STACK_ARGOCD_APIS_DIR": str(ROOT / "llama_stack_argocd/apis/specs"),
               "PYTHONUNBUFFERED": "1"}
        for name, value in self.env.items():
            if value is None:
                env.pop(name, None)
            else:
                env[name] = str(value)
        return env

    def start(self, timeout: float = START_TIMEOUT) -> StackHandle:
        return self.launch().wait_healthy(timeout)

    def launch(self) -> StackHandle:
        """Start the process without waiting (several replicas boot at once; then wait_healthy() on each)."""
        if self.running:
            return self
        self.starts += 1
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = self.state_dir / f"server-{self.starts}.log"
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                [*_die_with_parent(), *server_command(self.config, self.port)],
                stdout=log, stderr=subprocess.STDOUT, env=self._environment(), cwd=self.cwd, start_new_session=True,
            )
        _RUNNING.add(self)
        return self

    def wait_healthy(self, timeout: float = START_TIMEOUT) -> StackHandle:
        """Wait for GET /v1/health == 200; stop the process and raise with its log if it exits or stays unhealthy."""
        assert self.process is not None, "launch() first"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"llama stack run exited ({self.process.returncode}):\n{self.log_text()[-4000:]}")
            try:
                if httpx.get(f"{self.base_url}/v1/health", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"llama stack run was not healthy within {timeout}s:\n{self.log_text()[-4000:]}")

    def kill(self) -> None:
        """SIGKILL the whole process group at once: a replica dying mid-request, nothing flushed."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)
        _RUNNING.discard(self)

    def stop(self, grace: float = 8) -> None:
        """SIGTERM to the whole process group, SIGKILL after `grace` seconds."""
        stop_group(self.process, signal.SIGTERM, grace)
        _RUNNING.discard(self)

    def restart(self, timeout: float = START_TIMEOUT) -> StackHandle:
        """Stop and start again on the same port with the same state directory (persistence checks)."""
        self.stop()
        return self.start(timeout)

    def close(self) -> None:
        """Stop, and remove the state directory if start_stack created it."""
        self.stop()
        if self.owns_state_dir:
            shutil.rmtree(self.state_dir, ignore_errors=True)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def start_stack(config_path: Path | str, env: Mapping[str, str | None] | None = None, port: int | None = None,
                state_dir: Path | str | None = None, timeout: float = START_TIMEOUT,
                cwd: Path | None = None) -> StackHandle:
    """Start `llama stack run` and wait until it is healthy; use the handle as a context manager (or close())."""
    owns = state_dir is None
    directory = Path(tempfile.mkdtemp(prefix="stack-state-")) if state_dir is None else Path(state_dir)
    handle = StackHandle(config=Path(config_path), env=dict(env or {}), state_dir=directory,
                         port=port or free_port(), owns_state_dir=owns, cwd=cwd or ROOT)
    try:
        return handle.start(timeout)
    except BaseException:
        handle.close()
        raise


def start_stacks(*configs: tuple[Path | str, Mapping[str, str | None]],
                 timeout: float = START_TIMEOUT, together: bool = True) -> list[StackHandle]:
    """Start several `llama stack run` processes (replicas), each with its own port and state directory, at once or
    (`together=False`) each once the one before is healthy, and wait until all are healthy; close() each handle
    (or use them as context managers)."""
    handles = [StackHandle(config=Path(config), env=dict(env), state_dir=Path(tempfile.mkdtemp(prefix="stack-state-")),
                           owns_state_dir=True) for config, env in configs]
    try:
        for handle in handles:
            handle.launch()
            if not together:
                handle.wait_healthy(timeout)
        for handle in handles:
            handle.wait_healthy(timeout)
    except BaseException:
        for handle in handles:
            handle.close()
        raise
    return handles


@contextmanager
def running_stack(config: Path, env: Mapping[str, str | None] | None = None,
                  state_dir: Path | None = None) -> Iterator[StackHandle]:
    with start_stack(config, env, state_dir=state_dir) as handle:
        yield handle


def write_config(template: Path, directory: Path, name: str | None = None, **overrides: Any) -> Path:
    """A copy of a run config with `server.host` on loopback and dotted-key overrides applied.

    Keys are dotted paths, list items by index: `write_config(ROOT / "run.yaml", tmp_path,
    **{"providers.inference.0.config.context_size": 4096})`. A value of None at a list index removes that item.
    """
    config = yaml.safe_load(Path(template).read_text())
    config.setdefault("server", {})["host"] = "127.0.0.1"
    for dotted, value in overrides.items():
        node: Any = config
        *parents, last = [int(k) if k.isdigit() else k for k in dotted.split(".")]
        for key in parents:
            node = node[key] if isinstance(node, list) else node.setdefault(key, {})
        if isinstance(node, list) and value is None:
            del node[last]
        else:
            node[last] = value
    path = Path(directory) / (name or Path(template).name)
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def scripted_llm_env(llm_url: str, kubeconfig: Path | str | None = None) -> dict[str, str | None]:
    """Environment for run.yaml-style configs: inference from the scripted LLM only, optional kubeconfig."""
    env: dict[str, str | None] = {"OPENAI_BASE_URL": llm_url, "OPENAI_API_KEY": "sk-test",
                                  "VLLM_URL": None, "OLLAMA_URL": None, "LLAMA_CPP_SERVER_URL": None}
    if kubeconfig is not None:
        env["KUBECONFIG"] = str(kubeconfig)
    return env


class ModelServer(Protocol):
    """A model the stack is pointed at (the scripted LLM)."""

    @property
    def url(self) -> str: ...


class KubernetesSource(Protocol):
    """What the stack reads Kubernetes from (the cluster stand-in)."""

    def kubeconfig_env(self) -> dict[str, str]: ...


class Fixture(enum.Enum):
    """Stands for "the test's fixture of that name" (`llm`, `cluster`), resolved only when a stack needs it."""

    DEFAULT = "default"


class StackStarter:
    """`stack_with(template="run.yaml", *, model=llm, cluster=cluster, env=None, timeout=..., **config)`.

    Starts a real `llama stack run` of `template` (relative to the project, or absolute) copied with `**config`'s
    dotted-key overrides (see write_config), the scripted `model` as the only inference and `cluster`'s kubeconfig;
    `env` goes last, so it wins (a value of None unsets a variable). `model=None` / `cluster=None`: no model / no
    kubeconfig from the fixtures. Every stack is closed by close() (the fixture's end), latest first; `with
    stack_with(...) as s:` closes it earlier. `stack_with.replicas(n, ...)`: n of them booting at once."""

    def __init__(self, fixture: Callable[[str], Any], directory: Callable[[], Path]) -> None:
        self._fixture = fixture  # name -> fixture value (pytest's request.getfixturevalue)
        self._directory = directory  # a fresh directory for each config
        self._handles: list[StackHandle] = []

    def __call__(self, template: str | Path = "run.yaml", *, model: ModelServer | Fixture | None = Fixture.DEFAULT,
                 cluster: KubernetesSource | Fixture | None = Fixture.DEFAULT,
                 env: Mapping[str, str | None] | None = None, timeout: float = START_TIMEOUT,
                 **config: Any) -> StackHandle:
        path, environment = self._prepare(template, model, cluster, env, config)
        handle = start_stack(path, environment, timeout=timeout)
        self._handles.append(handle)
        return handle

    def replicas(self, count: int, template: str | Path = "run.yaml", *,
                 model: ModelServer | Fixture | None = Fixture.DEFAULT,
                 cluster: KubernetesSource | Fixture | None = Fixture.DEFAULT,
                 env: Mapping[str, str | None] | None = None, timeout: float = START_TIMEOUT,
                 together: bool = True, **config: Any) -> list[StackHandle]:
        """`count` stacks of one config and environment, each with its own port and state directory."""
        prepared = self._prepare(template, model, cluster, env, config)
        handles = start_stacks(*[prepared] * count, timeout=timeout, together=together)
        self._handles.extend(handles)
        return handles

    def _prepare(self, template: str | Path, model: ModelServer | Fixture | None,
                 cluster: KubernetesSource | Fixture | None, env: Mapping[str, str | None] | None,
                 config: Mapping[str, Any]) -> tuple[Path, dict[str, str | None]]:
        llm: ModelServer | None = self._fixture("llm") if model is Fixture.DEFAULT else model
        kube: KubernetesSource | None = self._fixture("cluster") if cluster is Fixture.DEFAULT else cluster
        environment: dict[str, str | None] = {}
        if llm is not None:
            environment.update(scripted_llm_env(llm.url))
        if kube is not None:
            environment.update(kube.kubeconfig_env())
        environment.update(env or {})
        return write_config(ROOT / template, self._directory(), **config), environment

    def close(self) -> None:
        for handle in reversed(self._handles):
            handle.close()
        self._handles.clear()
