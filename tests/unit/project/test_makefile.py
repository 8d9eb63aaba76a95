"""`make run` installs only what running needs (the test extras come with the test targets); `make help` lists
every target."""

from __future__ import annotations

import re
import subprocess

from tests.support.stack import ROOT

MAKEFILE = (ROOT / "Makefile").read_text()


def recipe(target: str) -> tuple[str, str]:
    """The prerequisites and the recipe lines of one target."""
    match = re.search(rf"^{re.escape(target)}:([^\n]*)\n((?:\t[^\n]*\n)*)", MAKEFILE, re.M)
    assert match, target
    return match.group(1).split("##")[0], match.group(2)


def test_running_installs_no_test_extras():
    prerequisites, _ = recipe("run")
    assert prerequisites.split() == ["install"]
    _, install = recipe("$(VENV)/.installed")
    assert "[test]" not in install and "pip install --quiet -e '.[$(HOST)]'" in install
    for target in ("test", "bench", "fuzz", "eval"):
        assert "install-test" in recipe(target)[0].split(), target
    assert "[test]" in recipe("$(VENV)/.installed-test")[1]


def test_help_lists_every_target():
    phony = re.search(r"^\.PHONY:(.*)$", MAKEFILE, re.M).group(1).split()
    out = subprocess.run(["make", "-s", "help"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    listed = re.findall(r"^  make (\S+)", out, re.M)
    assert sorted(listed) == sorted(phony)
    assert "PORT=" in out and "CONFIG=" in out and "STATE=" in out
