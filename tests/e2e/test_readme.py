"""The README's first commands, as written: `llama stack run run.yaml` started from another directory with no
variable of ours set, then the README's own `curl` request against it; `/v1/providers` says the embedded model is
healthy while it serves."""

from __future__ import annotations

import os
import re
import shlex
import subprocess

import httpx

from llama_stack_argocd.providers.inference.config import OTHER_INFERENCE_ENV
from tests.support.stack import ROOT, start_stack

README = ROOT / "README.md"


def first_commands() -> list[list[str]]:
    """The curl commands of the README's first `sh` block that talks to the server (continuation lines joined)."""
    blocks = re.findall(r"```sh\n(.*?)```", README.read_text(), re.S)
    block = next(b for b in blocks if "curl" in b)
    return [shlex.split(line) for line in block.replace("\\\n", " ").splitlines() if line.startswith("curl")]


def test_the_readme_first_commands_work_from_any_directory(tmp_path):
    commands = first_commands()
    assert commands and all("http://127.0.0.1:8321/" in " ".join(c) for c in commands), commands
    env = {**dict.fromkeys(OTHER_INFERENCE_ENV), "KUBECONFIG": os.devnull, "LLAMA_STACK_ARGOCD_APIS_DIR": None}
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    with start_stack(ROOT / "run.yaml", env=env, cwd=elsewhere) as stack:
        providers = httpx.get(f"{stack.base_url}/v1/providers", timeout=30).json()["data"]
        health = {(p["api"], p["provider_id"]): p["health"] for p in providers}
        assert health[("inference", "embedded")]["status"] == "OK", health
        assert health[("tool_runtime", "argocd")]["status"] == "Error"  # no cluster: said, not "Not Implemented"
        streaming = next(c for c in commands if "/v1/responses" in " ".join(c))
        argv = [a.replace("http://127.0.0.1:8321", stack.base_url) for a in streaming]
        # the first streamed text is enough: the embedded model's answer length is not this test's concern
        with subprocess.Popen(argv, stdout=subprocess.PIPE, cwd=elsewhere) as curl:
            try:
                seen = b""
                assert curl.stdout is not None
                while b'"response.output_text.delta"' not in seen:
                    chunk = curl.stdout.read1(4096)
                    assert chunk, seen.decode(errors="replace")[-2000:]
                    seen += chunk
            finally:
                curl.kill()
        assert b'"type":"response.created"' in seen
