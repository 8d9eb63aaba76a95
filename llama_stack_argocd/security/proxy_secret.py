"""The shared secret argocd-server's proxy extension adds to every request it forwards.

Argo CD is configured to send `Authorization: Bearer $assistant.proxy.secret` (a key of `argocd-secret`); the
back-end compares it in constant time. It is read from an environment variable or a mounted file and never
appears in a log line or a repr.
"""

from __future__ import annotations

import hmac
import os
from pathlib import Path


class ProxySecret:
    def __init__(self, value: str) -> None:
        if len(value) < 16:
            raise ValueError("the proxy secret must be at least 16 characters long")
        self._value = value.encode()

    @classmethod
    def load(cls, env_var: str, file_env_var: str) -> ProxySecret | None:
        """From `$env_var`, else from the file named by `$file_env_var`; None when neither is set."""
        if value := os.environ.get(env_var, "").strip():
            return cls(value)
        if path := os.environ.get(file_env_var, "").strip():
            return cls(Path(path).read_text().strip())
        return None

    def matches(self, presented: str | None) -> bool:
        return presented is not None and hmac.compare_digest(self._value, presented.encode())

    def __repr__(self) -> str:
        return "ProxySecret(***)"
