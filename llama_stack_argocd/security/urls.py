"""No server-side request to a URL a caller chose (SSRF).

A Responses request may carry URLs the server would connect to: `mcp` tools (`server_url`, with the caller's
headers), `input_image.image_url` and `input_file.file_url` (fetched to inline them). Behind argocd-server any
Argo CD user could make the back-end reach anything in the cluster network, so each such URL must be on the
operator's allowlist (default: only the configured mcp-for-argocd URL); `data:` URLs carry their content and are
fine. Refused before any connection. Framework-free.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

ALLOWED_URLS_SETTING = "ARGOCD_ASSISTANT_ALLOWED_URLS"


class URLNotAllowed(ValueError):
    """A caller-supplied URL the server would connect to, not on the allowlist (HTTP 400)."""


def _field(item: Any, name: str) -> Any:
    return item.get(name) if isinstance(item, dict) else getattr(item, name, None)


def _normal(url: str) -> str:
    return url.strip().rstrip("/")


class URLPolicy:
    def __init__(self, allowed: Iterable[str | None]) -> None:
        self._allowed = {_normal(u) for u in allowed if u and u.strip()}

    def check(self, url: Any, what: str) -> None:
        if not isinstance(url, str) or url.strip().lower().startswith("data:"):
            return
        if _normal(url) not in self._allowed:
            raise URLNotAllowed(
                f"{what} names a URL the server would connect to, and it is not on the operator's allowlist "
                f"({ALLOWED_URLS_SETTING}); send the content inline (a data: URL or a file id) instead."
            )

    def check_tools(self, tools: Iterable[Any]) -> None:
        for tool in tools:
            if _field(tool, "type") == "mcp":
                self.check(_field(tool, "server_url") or "", f"The mcp tool {_field(tool, 'server_label')!r}")
                if _field(tool, "connector_id"):
                    raise URLNotAllowed("mcp tools naming a connector are not served; use the assistant's tools.")

    def check_input(self, items: Any) -> None:
        if not isinstance(items, list):
            return
        for item in items:
            content = _field(item, "content")
            for part in content if isinstance(content, list) else [item]:
                kind = _field(part, "type")
                if kind == "input_image":
                    self.check(_field(part, "image_url"), "An input_image")
                elif kind == "input_file":
                    self.check(_field(part, "file_url"), "An input_file")
