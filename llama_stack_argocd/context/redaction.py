"""Redaction: secret values never reach the model, a response or a log line.

Applied to everything that crosses the boundary: manifests, events, logs, tool results, attachments and questions.
Structure-aware where it can be (Secret `data`, env values and map entries whose names look secret, JSON embedded in
strings such as the last-applied annotation), pattern-based everywhere else (bearer tokens, JWTs, PEM private keys,
cloud access keys, passwords in URLs, `password=...` pairs), plus operator filters. A `Redactor` counts what it
replaced, so each answer can say how many values were withheld. Patterns are compiled once, at import.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, field_validator

MASK = "[REDACTED]"
_NOT_MASKED = r"(?!\[REDACTED\])"  # a value already masked is not masked (and counted) again

# Names of env vars and parameters whose literal values are secrets (DB_PASSWORD, API_TOKEN, AWS_SECRET_ACCESS_KEY,
# SSH_KEY, GITHUB_APIKEY, OAUTH_CLIENT_SECRET, SENTRY_DSN...). Over-matching costs a harmless value; missing leaks one.
_SECRET_NAME = re.compile(
    r"PASSW(?:OR)?D|PASSPHRASE|SECRET|TOKEN|API[_-]?KEY|ACCESS[_-]?KEY|PRIVATE|CREDENTIAL|AUTH|"
    r"(?:^|[_.-])KEY(?:$|[_.-])|(?:^|[_.-])PW(?:$|[_.-])|DSN|CONN(?:ECTION)?[_-]?STR(?:ING)?|COOKIE|SESSION|SALT",
    re.IGNORECASE,
)
# Keys of JSON maps (Helm valuesObject, plugin env, config maps) whose string values are secrets: the name must END in
# the secret word, so `secretName`, `tokenTTL` or `passwordPolicy` stay readable.
_SECRET_KEY = re.compile(
    r"(?:passw(?:or)?d|passphrase|secret|token|api[_-]?key|access[_-]?key|private[_-]?key|credentials?|dsn)$",
    re.IGNORECASE,
)
# Values that carry no secret even under a secret-looking name (AUTH_ENABLED=true).
_HARMLESS_VALUES = frozenset({"", "true", "false", "yes", "no", "on", "off", "enabled", "disabled", "none", "null"})

# Built-in text patterns, in order: (pattern, replacement). Replacements keep enough context to read the line.
_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (  # PEM private key blocks (RSA, EC, OPENSSH, ENCRYPTED...), also when the END line was cut off
        re.compile(r"-----BEGIN ([A-Z0-9 ]*)PRIVATE KEY-----.*?(?:-----END \1PRIVATE KEY-----|\Z)", re.DOTALL),
        f"-----BEGIN PRIVATE KEY-----{MASK}-----END PRIVATE KEY-----",
    ),
    (re.compile(r"\beyJ[A-Za-z0-9_-]{6,}\.[A-Za-z0-9_-]{6,}\.[A-Za-z0-9_-]*"), MASK),  # JWT (signature may be empty)
    (re.compile(rf"(?i)\b(bearer|basic|token)(\s+){_NOT_MASKED}[A-Za-z0-9._~+/=-]{{8,}}"), rf"\1\2{MASK}"),
    (re.compile(r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b"), MASK),  # AWS access key id
    (re.compile(r"\bAIza[0-9A-Za-z_-]{35}\b"), MASK),  # Google API key
    (re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}|glpat-[A-Za-z0-9_-]{20,})"), MASK),
    (re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}"), MASK),  # Slack
    (re.compile(r"\bsk-[A-Za-z0-9_-]{16,}"), MASK),  # API keys in the OpenAI style
    (  # scheme://user:password@host
        re.compile(rf"\b([a-zA-Z][a-zA-Z0-9+.-]*://[^\s:/@]+):{_NOT_MASKED}([^\s@/]+)@"),
        rf"\1:{MASK}@",
    ),
    (  # a key that ends in a secret word (db_password=, "api_token": "...", secret_key: ...), not token_count=3
        re.compile(
            r"(?i)\b([\w.-]*(?:passw(?:or)?d|passphrase|secret|token|api[_-]?key|access[_-]?key|private[_-]?key"
            rf"|credentials?|auth))(\"?[ \t]*[:=][ \t]*\"?){_NOT_MASKED}([^\s\"',;&]+)"
        ),
        rf"\1\2{MASK}",
    ),
)


class RedactionFilter(BaseModel):
    """An operator's own rule (like OpenShift Lightspeed's `query_filters`): a regex and what replaces a match."""

    model_config = ConfigDict(populate_by_name=True)

    name: str = ""
    pattern: str
    replace_with: str = Field(default=MASK, validation_alias=AliasChoices("replace_with", "replacement"))

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as error:
            raise ValueError(f"redaction pattern {value!r} is not a valid regular expression: {error}") from error
        return value


def secret_looking(name: str) -> bool:
    """Whether an env var or parameter name suggests its value is a secret."""
    return bool(_SECRET_NAME.search(name))


class Redactor:
    """Redacts text and Kubernetes-shaped objects; `count` is how many values it replaced so far.

    One Redactor per answer: the count then says how many values that answer withheld.
    """

    def __init__(self, filters: Iterable[RedactionFilter] = ()) -> None:
        self._patterns = (*_PATTERNS, *((re.compile(f.pattern), f.replace_with) for f in filters))
        self.count = 0

    def redact_text(self, text: str) -> str:
        """Free text with every secret-looking value replaced; a whole JSON document is redacted by structure."""
        if not text:
            return text
        stripped = text.lstrip()
        if stripped[:1] in ("{", "[") and len(stripped) > 1:
            embedded = self._embedded_json(text)
            if embedded is not None:
                return embedded
        return self._by_pattern(text)

    def redact_obj(self, obj: Any) -> Any:
        """A redacted deep copy of a JSON-like object; the input is left untouched."""
        return self._walk(obj)

    def _by_pattern(self, text: str) -> str:
        for pattern, replacement in self._patterns:
            text, replaced = pattern.subn(replacement, text)
            self.count += replaced
        return text

    def _embedded_json(self, text: str) -> str | None:
        """JSON inside a string (the last-applied annotation, an attached manifest): redacted as an object."""
        try:
            parsed = json.loads(text)
        except ValueError:
            return None
        if not isinstance(parsed, dict | list):
            return None
        before = self.count
        redacted = self._walk(parsed)
        if self.count == before:
            return text  # nothing secret: keep the caller's formatting
        return json.dumps(redacted, indent=2 if "\n" in text.strip() else None, ensure_ascii=False)

    def _mask(self, value: Any) -> Any:
        if isinstance(value, str) and value.strip().lower() not in _HARMLESS_VALUES and value != MASK:
            self.count += 1
            return MASK
        return value

    def _walk(self, node: Any) -> Any:
        if isinstance(node, str):
            return self.redact_text(node)
        if isinstance(node, list | tuple):
            return [self._walk(item) for item in node]
        if not isinstance(node, dict):
            return node
        kind = node.get("kind")
        out: dict[str, Any] = {}
        for key, value in node.items():
            if kind == "Secret" and key in ("data", "stringData") and isinstance(value, dict):
                out[key] = {k: self._secret_value(v) for k, v in value.items()}
            elif kind == "ConfigMap" and key == "data" and isinstance(value, dict):
                out[key] = {k: self._mask(v) if secret_looking(k) else self._walk(v) for k, v in value.items()}
            elif key == "value" and isinstance(node.get("name"), str) and secret_looking(node["name"]):
                out[key] = self._mask(value) if isinstance(value, str) else self._walk(value)  # env var, parameter
            elif isinstance(key, str) and isinstance(value, str) and _SECRET_KEY.search(key):
                out[key] = self._mask(value)
            else:
                out[key] = self._walk(value)
        return out

    def _secret_value(self, value: Any) -> str:
        """Every value of a Secret is withheld, however harmless it looks; already-masked ones count too."""
        self.count += 1
        return MASK
