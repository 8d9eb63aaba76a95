"""Redaction: secret values never reach the model, a response or a log line.

Applied to everything that crosses the boundary: manifests, events, logs, tool results, attachments and questions.
Structure-aware where it can be (Secret `data`, env values whose names look secret), pattern-based everywhere else
(bearer tokens, JWTs, PEM private keys, cloud access keys, passwords in URLs, `password=...` pairs), plus operator
filters. A `Redactor` counts what it replaced, so each answer can say how many values were withheld.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel

MASK = "[REDACTED]"

_SECRET_NAME = re.compile(
    r"(PASSW(OR)?D|PASSPHRASE|SECRET|TOKEN|API[_-]?KEY|ACCESS[_-]?KEY|PRIVATE[_-]?KEY|CREDENTIAL|AUTH|"
    r"(^|[_-])KEY($|[_-])|DSN|CONN(ECTION)?[_-]?STRING|COOKIE|SESSION)",
    re.IGNORECASE,
)

# (pattern, replacement) applied in order; replacements keep enough context to read the line.
_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    (
        re.compile(r"-----BEGIN ([A-Z0-9 ]*)PRIVATE KEY-----.*?(-----END \1PRIVATE KEY-----|\Z)", re.DOTALL),
        f"-----BEGIN PRIVATE KEY-----{MASK}-----END PRIVATE KEY-----",
    ),
    (re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"), MASK),  # JWT
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}"), rf"\1 {MASK}"),
    (re.compile(r"\b(AKIA|ASIA)[A-Z0-9]{16}\b"), MASK),  # AWS access key id
    (re.compile(r"\b(gh[pousr]_[A-Za-z0-9]{20,}|glpat-[A-Za-z0-9_-]{20,}|xox[abprs]-[A-Za-z0-9-]{10,})"), MASK),
    (re.compile(r"\bsk-[A-Za-z0-9_-]{16,}"), MASK),  # API keys in the OpenAI style
    (re.compile(r"([a-zA-Z][a-zA-Z0-9+.-]*://[^\s:/@]+):([^\s@/]+)@"), rf"\1:{MASK}@"),  # user:password@host
    (
        re.compile(
            # a key that ends in a secret word (db_password=, api_token:, secret_key=), not token_count=
            r"(?i)\b([\w.-]*(?:passw(?:or)?d|passphrase|secret|token|api[_-]?key|access[_-]?key|secret[_-]?key"
            r"|private[_-]?key|credentials?))(\"?\s*[:=]\s*\"?)([^\s\"',;&]+)"
        ),
        rf"\1\2{MASK}",
    ),
]


class RedactionFilter(BaseModel):
    """An operator's own rule, like OpenShift Lightspeed's `query_filters`."""

    name: str = ""
    pattern: str
    replace_with: str = MASK


class Redactor:
    """Redacts text and Kubernetes-shaped objects; `count` is how many values it replaced so far."""

    def __init__(self, filters: Iterable[RedactionFilter] = ()) -> None:
        self._extra = [(re.compile(f.pattern), f.replace_with) for f in filters]
        self.count = 0

    def redact_text(self, text: str) -> str:
        for pattern, replacement in (*_PATTERNS, *self._extra):
            text, replaced = pattern.subn(replacement, text)
            self.count += replaced
        return text

    def redact_obj(self, obj: Any) -> Any:
        """A redacted deep copy of a JSON-like object."""
        return self._walk(copy.deepcopy(obj))

    def _walk(self, node: Any) -> Any:
        if isinstance(node, str):
            return self.redact_text(node)
        if isinstance(node, list):
            return [self._walk(item) for item in node]
        if not isinstance(node, dict):
            return node
        if node.get("kind") == "Secret":
            for field in ("data", "stringData"):
                if isinstance(node.get(field), dict):
                    self.count += len(node[field])
                    node[field] = dict.fromkeys(node[field], MASK)
        if isinstance(node.get("name"), str) and "value" in node and _SECRET_NAME.search(node["name"]):
            if node["value"] not in (None, ""):  # an env var with a literal secret-looking value
                self.count += 1
                node["value"] = MASK
        return {key: self._walk(value) for key, value in node.items()}


def secret_looking(name: str) -> bool:
    return bool(_SECRET_NAME.search(name))
