"""Stopping a test server started in its own process group (`start_new_session=True`): children included."""

from __future__ import annotations

import os
import signal
import subprocess


def stop_group(process: subprocess.Popen | None, sig: signal.Signals, grace: float) -> None:
    """Send `sig` to the group, wait `grace` seconds, then SIGKILL; a group already gone is fine."""
    if process is None or process.poll() is not None:
        return
    try:
        os.killpg(process.pid, sig)
        process.wait(grace)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(5)
    except ProcessLookupError:
        pass
