"""`make demo` end to end: started by make as a user starts it (the scripted model configured instead of the embedded
one), its printed requests followed as printed, the answers built on the scenario's evidence; Ctrl-C stops it all."""

from __future__ import annotations

import json
import re
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from llama_stack_argocd.cli.eval import found, load_scenarios
from tests.support.scripted_llm import ScriptedLLM, Text, ToolCalls, free_port, message_text
from tests.support.stack import ROOT, scripted_llm_env

SCENARIO = "imagepull-tag-not-found"
VENV = Path(sys.executable).parents[1]  # the venv running the tests, already installed: make must not reinstall


def investigate(request: dict[str, Any]) -> Any:
    """A model that reads before it answers: the Application, then every resource Argo CD does not call healthy."""
    messages = request["messages"]
    results = [m for m in messages if m.get("role") == "tool"]
    if not results:
        return ToolCalls([("argocd_application", {})])
    if len(results) == 1:
        application = json.loads(message_text(results[0]))
        calls = []
        for r in application.get("resources") or []:
            if (r.get("health") or {}).get("status") not in (None, "Healthy"):
                ref = {"kind": r["kind"], "name": r["name"]}
                calls += [("argocd_containers", ref), ("argocd_resource_events", ref)]
        return ToolCalls(calls)
    return Text("The new Pods cannot pull their image; see the events above.")


def curl_request(line: str) -> tuple[str, dict[str, str], dict[str, Any]]:
    """URL, headers and JSON body of a printed `curl ... -H ... -d ...` line."""
    words = shlex.split(line)
    assert words[0] == "curl", line
    url = next(w for w in words[1:] if w.startswith("http"))
    headers = dict(words[i + 1].split(": ", 1) for i, w in enumerate(words) if w == "-H")
    body = json.loads(words[words.index("-d") + 1])
    return url, headers, body


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture
def demo(tmp_path):
    port = free_port()
    with ScriptedLLM().serving() as llm:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        for name, value in scripted_llm_env(llm.url).items():
            if value is None:
                env.pop(name, None)
            else:
                env[name] = value
        env.pop("KUBECONFIG", None)
        env["DEMO_SCENARIOS"] = SCENARIO
        # As a user runs it; -o install-demo: the venv is the test's own, already installed.
        process = subprocess.Popen(
            ["make", "-s", "--no-print-directory", "-o", "install-demo", "demo", f"VENV={VENV}", f"PORT={port}",
             f"STATE={tmp_path / 'state'}"],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
        lines: list[str] = []
        try:
            deadline = time.monotonic() + 180
            while time.monotonic() < deadline:
                line = process.stdout.readline()
                if not line:
                    break
                lines.append(line.rstrip("\n"))
                if line.startswith("Ctrl-C"):
                    break
            assert lines and lines[-1].startswith("Ctrl-C"), "\n".join(lines)
            yield process, lines, llm, port
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C in the terminal sends: the foreground group
                try:
                    process.wait(30)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait(5)


def test_the_printed_requests_answer_with_the_scenarios_evidence(demo):
    process, lines, llm, port = demo
    scenario = load_scenarios(only=[SCENARIO])[0]
    printed = [line for line in lines if line.startswith("curl ")]
    assert len(printed) == 2, "\n".join(lines)  # /v1/query and /v1/responses for the one Application
    for line in printed:
        url, headers, body = curl_request(line)
        assert url.startswith(f"http://127.0.0.1:{port}/v1/")
        assert headers["Argocd-Application-Name"] == f"argocd:{SCENARIO}"
        llm.reset()
        llm.push(investigate, investigate, investigate)
        answer = httpx.post(url, headers=headers, json=body, timeout=120)
        assert answer.status_code == 200, answer.text
        text = answer.json().get("response") if url.endswith("/query") else json.dumps(answer.json()["output"])
        assert "cannot pull their image" in text
        seen = llm.prompts_text()  # what the model was shown in the turn: the evidence, read from the stand-in
        hits = found(seen, scenario.evidence)
        assert all(hits), [e for e, ok in zip(scenario.evidence, hits, strict=True) if not ok]


def test_ctrl_c_stops_the_assistant_and_the_stand_in(demo):
    process, lines, _, port = demo
    stand_in = next(line for line in lines if line.startswith("Kubernetes stand-in: http"))
    stand_in_port = int(stand_in.split()[2].rsplit(":", 1)[1])
    assert port_open(port) and port_open(stand_in_port)
    os.killpg(process.pid, signal.SIGINT)
    process.wait(30)  # make itself reports the interrupt with its own status
    assert "stopped" in process.stdout.read()
    assert not port_open(port) and not port_open(stand_in_port)


def quote_what_was_read(request: dict[str, Any]) -> Any:
    """`investigate`, then an answer quoting every tool result (a model that cites its evidence)."""
    results = [message_text(m) for m in request["messages"] if m.get("role") == "tool"]
    if len(results) < 2:
        return investigate(request)
    return Text("I checked: " + " | ".join(results))


def test_eval_live_scores_the_answers_against_the_evidence(tmp_path):
    with ScriptedLLM().serving() as llm:
        llm.push(*[quote_what_was_read] * 3)
        env = {**os.environ}
        for name, value in scripted_llm_env(llm.url).items():
            if value is None:
                env.pop(name, None)
            else:
                env[name] = value
        done = subprocess.run(
            ["make", "-s", "--no-print-directory", "-o", "install-demo", "eval-live", f"VENV={VENV}",
             f"ONLY={SCENARIO}"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    assert f"passed (every evidence string, within 60s): 1/1 = 100%" in done.stdout
    assert re.search(rf"^{SCENARIO}\s+3/3 ", done.stdout, re.M), done.stdout
