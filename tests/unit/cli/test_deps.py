"""Listing a distribution's dependencies from any directory: llama-stack 0.7.3's own `list-deps` cannot (it does not
substitute `${env...}`, README "Limits"), the README's command does."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys

from tests.support.stack import HOST_VENV, ROOT

README = (ROOT / "README.md").read_text()


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("LLAMA_STACK_ARGOCD_APIS_DIR", "OLLAMA_URL")}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    return env


def test_llama_stacks_own_list_deps_still_cannot_read_our_config(tmp_path):
    # When this starts passing, llama-stack substitutes the environment there: drop the README's Limits entry.
    llama = HOST_VENV / "bin" / "llama"
    done = subprocess.run([str(llama), "stack", "list-deps", str(ROOT / "run.yaml")], cwd=tmp_path, env=_env(),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode != 0 and "does not exist" in done.stderr + done.stdout


def test_the_readmes_list_deps_command_works_from_another_directory(tmp_path):
    [command] = re.findall(r"`(python -m llama_stack_argocd\.cli\.deps [^`]+)`", README)
    argv = shlex.split(command)
    argv = [sys.executable, *argv[1:-1], str(ROOT / argv[-1])]  # run.yaml of the checkout, from elsewhere
    done = subprocess.run([*argv, "--format", "uv"], cwd=tmp_path, env=_env(), capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.splitlines()
    assert "uv pip install llama_stack_argocd" in lines  # our external APIs and providers were resolved
    assert not any("ollama" in line for line in lines)  # providers whose variable is unset are not listed


def test_a_missing_config_is_said(tmp_path):
    done = subprocess.run([sys.executable, "-m", "llama_stack_argocd.cli.deps", "nowhere.yaml"], cwd=tmp_path,
                          env=_env(), capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "no such config file: nowhere.yaml" in done.stderr
