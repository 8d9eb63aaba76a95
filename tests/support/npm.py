"""`npm ci` for the test-only Node packages under tests/clients/ (the extension driver, the argocd-mcp peer).

Runs at most once per process per directory, and only when package-lock.json changed since the last install (a
stamp in node_modules records its digest); a file lock keeps two pytest processes from installing over each other.
If npm fails, the test fails with npm's own output: nothing is skipped.

A support module that needs a directory says so at import (`needed(directory)`); once the tests are collected,
`install_needed_in_background()` starts those installs (mostly waiting on the registry) while the first tests run,
and a test's own `npm_ci` call waits for them.
"""

from __future__ import annotations

import fcntl
import hashlib
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path

_STAMP = ".llama-stack-argocd-npm-ci"
_lock = threading.Lock()
_done: set[Path] = set()
_needed: list[Path] = []


class NpmError(RuntimeError):
    """`npm ci` (or node) failed; the message carries npm's own output."""


def npm_ci(directory: Path, force: bool = False) -> float:
    """Install `directory`'s package-lock.json if needed; the seconds npm took (0.0 when nothing had to be done)."""
    directory = directory.resolve()
    with _lock:
        if directory in _done and not force:
            return 0.0
        for tool in ("node", "npm"):
            if shutil.which(tool) is None:
                raise NpmError(f"`{tool}` is not on PATH; {directory.name} needs Node 20+ and npm")
        digest = hashlib.sha256((directory / "package-lock.json").read_bytes()).hexdigest()
        stamp = directory / "node_modules" / _STAMP
        took = 0.0
        guard_path = Path(tempfile.gettempdir()) / f"npm-ci-{hashlib.sha256(bytes(directory)).hexdigest()[:16]}.lock"
        with open(guard_path, "w") as guard:
            fcntl.flock(guard, fcntl.LOCK_EX)
            try:
                current = stamp.read_text().strip() if stamp.exists() else ""
                if force or current != digest:
                    start = time.monotonic()
                    result = subprocess.run(
                        ["npm", "ci", "--no-audit", "--no-fund", "--prefer-offline", "--ignore-scripts"],
                        cwd=directory, capture_output=True, text=True, timeout=600, check=False,
                    )
                    took = time.monotonic() - start
                    if result.returncode != 0:
                        raise NpmError(f"npm ci failed (exit {result.returncode}) in {directory}:\n"
                                       f"{result.stdout}\n{result.stderr}")
                    stamp.write_text(digest + "\n")
            finally:
                fcntl.flock(guard, fcntl.LOCK_UN)
        _done.add(directory)
        return took


def needed(directory: Path) -> Path:
    """Record that the collected tests may need `directory` installed; returns it."""
    if directory not in _needed:
        _needed.append(directory)
    return directory


def install_needed_in_background() -> threading.Thread | None:
    """`npm ci` for every needed directory in a daemon thread. A failure is left to the test that needs the
    directory: its own `npm_ci` call runs npm again and fails with npm's output."""
    if not _needed or shutil.which("npm") is None:
        return None

    def install() -> None:
        for directory in list(_needed):
            try:
                npm_ci(directory)
            except (NpmError, OSError, subprocess.SubprocessError):
                pass

    thread = threading.Thread(target=install, name="npm-ci", daemon=True)
    thread.start()
    return thread
