"""Only the routes the assistant serves: what a proxied user may call under proxy trust.

llama-stack 0.7 serves many more routes (raw chat completions, embeddings, files, vector stores, model
registration, ...); called directly they would bypass the agent's instructions, redaction, Application scope and
the per-user token quota. A pattern is `[METHODS ]PATH`: `GET,POST /v1/x` limits methods (none: any); a path
ending in `/*` covers itself and everything below it. Framework-free.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

EXTRA_ROUTES_SETTING = "ARGOCD_ASSISTANT_EXTRA_ROUTES"

# What the extension's three providers, the documented clients (OpenAI/Llama-Stack SDKs, OLS clients, MCP
# clients) and the probes call.
ASSISTANT_ROUTES: tuple[str, ...] = (
    "GET /v1/health", "GET /v1/version", "GET /liveness", "GET /readiness",
    "GET /v1/models/*", "GET /v1/openai/v1/models/*",
    "/v1/responses/*", "/v1/openai/v1/responses/*",
    "/v1/agents/*",
    "POST /v1/query", "POST /v1/streaming_query", "/v1/feedback/*", "POST /authorized",
    "/v1/conversations/*",
    "/v1/argocd/mcp",
    "GET /v1/tools/*", "GET /v1/toolgroups/*",
)


@dataclass(frozen=True)
class _Pattern:
    methods: frozenset[str] | None
    path: str
    below: bool

    @classmethod
    def parse(cls, text: str) -> _Pattern:
        text = text.strip()
        methods: frozenset[str] | None = None
        if " " in text:
            head, _, text = text.partition(" ")
            methods = frozenset(m.strip().upper() for m in head.split(",") if m.strip())
            text = text.strip()
        if not text.startswith("/"):
            raise ValueError(f"route pattern {text!r} must start with /")
        below = text.endswith("/*")
        return cls(methods, text[:-2] if below else text.rstrip("/") or "/", below)

    def matches(self, method: str, path: str) -> bool:
        if self.methods is not None and method not in self.methods and not (method == "HEAD" and "GET" in self.methods):
            return False
        return path == self.path or (self.below and path.startswith(self.path + "/"))


class RouteAllowlist:
    def __init__(self, patterns: Iterable[str]) -> None:
        self._patterns = [_Pattern.parse(p) for p in patterns if p.strip()]

    @classmethod
    def of(cls, base: Iterable[str], extra: str | Iterable[str] = "") -> RouteAllowlist:
        """`base` plus the operator's `extra` (a comma- or newline-separated string, or a list)."""
        extras = extra.replace("\n", ",").split(",") if isinstance(extra, str) else list(extra)
        return cls([*base, *extras])

    def allows(self, method: str, path: str) -> bool:
        method = method.upper()
        if path != "/" and path.endswith("/"):
            path = path.rstrip("/")
        return any(p.matches(method, path) for p in self._patterns)

    @staticmethod
    def refusal(method: str, path: str) -> str:
        return (
            f"{method} {path} is not one of the assistant's routes, so it is closed to proxied users; an operator "
            f"can open it with {EXTRA_ROUTES_SETTING} (the argocd-service provider's `extra_routes`)."
        )
