"""Runs the extension's real client (npm llama-stack-client 0.3.0, via tests/clients/extension/drive.mjs)."""

from __future__ import annotations

import json
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

DRIVER_DIR = Path(__file__).resolve().parents[1] / "clients" / "extension"


@cache
def install_driver() -> None:
    """`npm ci` once per test session; a failure fails the test with npm's own words."""
    if (DRIVER_DIR / "node_modules" / "llama-stack-client" / "package.json").exists():
        return
    result = subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=DRIVER_DIR, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"npm ci failed:\n{result.stdout}\n{result.stderr}")


def drive(job: dict[str, Any], timeout: float = 180) -> list[dict[str, Any]]:
    install_driver()
    result = subprocess.run(["node", "drive.mjs"], cwd=DRIVER_DIR, input=json.dumps(job), capture_output=True,
                            text=True, timeout=timeout)
    events = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    if result.returncode != 0:
        raise AssertionError(f"driver failed: {events[-3:]}\n{result.stderr}")
    return events
