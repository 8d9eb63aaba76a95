"""The shared secret argocd-server's proxy extension adds to every request it forwards.

Argo CD is configured to send `Authorization: Bearer $assistant.proxy.secret` (a key of `argocd-secret`); the
back-end compares it in constant time. It is read from an environment variable or a mounted file (SecretSetting:
one of the two) and never appears in a log line or a repr.
"""

from __future__ import annotations

import hmac

from llama_stack_argocd.context.secret_setting import SecretSetting


class ProxySecret:
    def __init__(self, value: str) -> None:
        if len(value) < 16:
            raise ValueError("the proxy secret must be at least 16 characters long")
        self._value = value.encode()

    @classmethod
    def load(cls, env_var: str, file_env_var: str) -> ProxySecret | None:
        """From `$env_var` or from the file named by `$file_env_var`; None when neither is set, an error when both."""
        value = SecretSetting("the proxy secret", env_var, file_env_var).from_environment()
        return None if value is None else cls(value)

    def matches(self, presented: str | None) -> bool:
        return presented is not None and hmac.compare_digest(self._value, presented.encode())

    def __repr__(self) -> str:
        return "ProxySecret(***)"
