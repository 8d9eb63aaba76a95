"""Redaction: secret values never reach the model, a response, storage or a log line.

Applied to everything that crosses the boundary: questions, instructions, attachments, manifests, events, logs and
tool results. It works by classes, not by examples:

- names: a name is split into words (`DB_PASS`, `clientSecret`, `spring.datasource.password`, `X-Api-Key`,
  `requirepass`); a secret word (password, pass, pwd, token, secret, credential, api key, ...) makes it secret unless
  the last word says the value is about the secret rather than the secret (`TOKEN_TTL_SECONDS`, `SECRET_NAME`,
  `PASSWORD_MIN_LENGTH`, `AUTH_MODE`, `TLS_KEY_FILE`). Weak words (`key`, `auth`, `session`) need a value that looks
  like a credential. Values that carry nothing (booleans, file paths, `$(VAR)` references) are kept.
- places where names meet values: env entries and `name`/`value` parameters, map keys, `name=value` and
  `name: value` in any text (env files, properties, INI, YAML, JSON, connection strings, URL queries, event
  messages), flags followed by their value (`--api-token X`, also as separate args), `mysql -pX`, `curl -u u:p`,
  config directives (`requirepass X`), `.pgpass` lines, cookies, passwords in URLs (`redis://:X@host`), chat
  webhook URLs, and prose ("the admin password is X").
- value shapes wherever they appear: JWTs, PEM private keys, cloud and SaaS keys, bearer and basic credentials.

A `Redactor` counts what it replaced, so each answer can say how many values were withheld. Patterns are compiled
once, at import.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from enum import IntEnum
from typing import Any

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, field_validator

MASK = "[REDACTED]"
_NOT_MASKED = r"(?!\[REDACTED\])"  # a value already masked is not masked (and counted) again


class Strength(IntEnum):
    NONE = 0
    WEAK = 1  # masked only when the value looks like a credential (`key=value` stays, `key=Zx81...` goes)
    STRONG = 2  # masked unless the value carries nothing (true, a file path, a `$(VAR)` reference)


_WORD = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+")
_STRONG_WORDS = frozenset({
    "password", "passwords", "passwd", "pass", "pwd", "pw", "passphrase", "secret", "secrets", "token", "credential",
    "credentials", "creds", "apikey", "accesskey", "secretkey", "privatekey", "private", "dsn", "webhook",
    "signature", "sig", "authorization", "connstr", "connectionstring", "cookie", "salt", "pin", "otp",
})
_WEAK_WORDS = frozenset({"key", "auth", "oauth", "session", "sid", "jwt", "bearer", "hmac", "cert"})
# "key" is strong after one of these (ACCESS_KEY, secretKey, X-Api-Key, AccountKey, SIGNING_KEY).
_KEY_OWNERS = frozenset({
    "api", "access", "secret", "private", "signing", "encryption", "master", "account", "client", "shared", "license",
    "storage", "session", "hmac", "app", "service", "ssh", "gpg", "pgp", "deploy", "admin", "root", "crypt", "cookie",
    "sas", "subscription", "webhook", "auth",
})
# Single words that end in a secret word: requirepass, masterauth, bindpw, rootpw, apitoken, dbpass, pgpass.
_COMPOUND = re.compile(r"(?:password|passwd|pass|pwd|pw|secret|token|auth|apikey|accesskey|secretkey|privatekey)$")
_NOT_COMPOUND = frozenset({"bypass", "compass", "encompass", "surpass", "overpass", "underpass", "trespass", "impass"})
# A last word that makes the value a property of the secret, not the secret itself.
_QUALIFIERS = frozenset({
    "ttl", "seconds", "secs", "sec", "ms", "minutes", "mins", "hours", "days", "timeout", "length", "len", "min",
    "max", "name", "names", "mode", "store", "file", "files", "path", "paths", "dir", "directory", "enabled", "enable",
    "disabled", "type", "kind", "ref", "refs", "id", "ids", "count", "size", "version", "header", "algorithm", "algo",
    "policy", "rotation", "interval", "expiry", "expiration", "expires", "duration", "lifetime", "age", "format",
    "provider", "backend", "issuer", "endpoint", "audience", "domain", "realm", "scope", "scopes", "location", "mount",
    "field", "method", "strategy", "required", "secure", "httponly", "samesite", "limit", "retries", "level", "cache",
    "manager", "namespace", "label", "annotation", "selector", "volume", "registry", "prefix", "user", "username",
    "usage", "generator", "reset", "validation", "renewal", "refresh", "threshold", "complexity", "rules", "hint",
    "template", "source", "sources", "keyring", "network", "cidr", "repo", "image", "host", "port",
})
_QUALIFYING_FIRST = frozenset({"existing", "use", "num", "allow", "skip", "require", "requires", "rotate", "is"})

# Values that carry no secret even under a secret-looking name.
_HARMLESS_VALUES = frozenset({"", "true", "false", "yes", "no", "on", "off", "enabled", "disabled", "none", "null",
                              "required", "optional", "changeme-not-set"})
_REFERENCE = re.compile(r"^(?:\$\(\w+\)|\$\{\w+\}|\$\w+|/[\w./@+-]*|~/[\w./-]*|\*+)$")
_AUTH_SCHEMES = frozenset({"bearer", "basic", "token", "digest", "negotiate", "aws4-hmac-sha256", "apikey"})
_SYMBOLS = set("!@#$%^&*+=/~?")  # not `_ . - :`, which identifiers and names use


def _words(name: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(name)]


def secret_strength(name: str) -> Strength:
    """How strongly a name (env var, parameter, map key, flag, config directive) says its value is a secret."""
    words = _words(name)
    if not words or words[-1] in _QUALIFIERS or words[0] in _QUALIFYING_FIRST:
        return Strength.NONE
    strength = Strength.NONE
    for index, word in enumerate(words):
        if word == "key":
            owned = index > 0 and words[index - 1] in _KEY_OWNERS
            strength = max(strength, Strength.STRONG if owned else Strength.WEAK)
        elif word in _STRONG_WORDS:
            return Strength.STRONG
        elif word in _WEAK_WORDS:
            strength = max(strength, Strength.WEAK)
        elif len(word) > 4 and word not in _NOT_COMPOUND and _COMPOUND.search(word):
            return Strength.STRONG
    return strength


def secret_looking(name: str) -> bool:
    """Whether an env var or parameter name suggests its value is a secret."""
    return secret_strength(name) > Strength.NONE


def harmless_value(value: str) -> bool:
    """A value that says nothing secret whatever its name: a boolean, a file path, a reference, a mask."""
    stripped = value.strip().strip("'\"")
    return stripped.lower() in _HARMLESS_VALUES or MASK in stripped or bool(_REFERENCE.match(stripped))


def credential_shaped(value: str, minimum: int = 8) -> bool:
    """A value that looks generated rather than written: long enough and mixing digits, cases or symbols."""
    value = value.strip("'\"")
    if len(value) < minimum or " " in value or harmless_value(value):
        return False
    digits = any(c.isdigit() for c in value)
    letters = any(c.isalpha() for c in value)
    inner_upper = any(c.isupper() for c in value[1:]) and any(c.islower() for c in value)
    return (digits and letters) or inner_upper or (bool(_SYMBOLS & set(value)) and letters) or len(value) >= 24


def _masks(strength: Strength, value: str) -> bool:
    if strength is Strength.STRONG:
        return not harmless_value(value)
    return strength is Strength.WEAK and credential_shaped(value)


def _quoted_mask(value: str) -> str:
    """The mask in the value's own quotes, so the surrounding syntax still reads."""
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return f"{value[0]}{MASK}{value[0]}"
    return MASK


# A cheap look-ahead: only names holding a secret-ish fragment reach the word-by-word check.
_KEYISH = (r"(?=[\w.-]*?(?i:pass|pwd|pw|secret|token|cred|key|auth|dsn|webhook|sig|cookie|salt|pin|otp|session|sid"
           r"|jwt|bearer|hmac|cert|private|conn))")
_VALUE = r"""(?P<value>"[^"\n]*"|'[^'\n]*'|[^\s"',;&<>)\]}]+)"""
Replacement = str | Callable[[re.Match[str]], str]

# Whole values recognised by their shape, wherever they appear.
_SHAPES = (
    r"\beyJ[A-Za-z0-9_-]{6,}\.[A-Za-z0-9_-]{6,}\.[A-Za-z0-9_-]*",  # JWT (signature may be empty)
    r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA)[A-Z0-9]{16}\b",  # AWS key ids
    r"\bAIza[0-9A-Za-z_-]{35}\b",  # Google API key
    r"\b(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}|glpat-[A-Za-z0-9_-]{20,}|glrt-[\w-]{20,})",
    r"\bxox[abposr]-[A-Za-z0-9-]{10,}|\bxapp-[A-Za-z0-9-]{10,}",  # Slack
    r"\b(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{16,}|\bwhsec_[A-Za-z0-9]{16,}",  # Stripe
    r"\bsk-[A-Za-z0-9_-]{16,}",  # OpenAI-style keys (sk-proj-, sk-ant-)
    r"\bSG\.[\w-]{16,}\.[\w-]{16,}",  # SendGrid
    r"\b(?:npm_[A-Za-z0-9]{30,}|hf_[A-Za-z0-9]{30,}|dop_v1_[a-f0-9]{40,}|shpat_[a-fA-F0-9]{20,}|dapi[a-f0-9]{32})",
    r"\bhvs\.[A-Za-z0-9_-]{20,}|\bAGE-SECRET-KEY-1[0-9A-Z]{20,}",  # Vault tokens, age keys
    r"\bbot\d{6,}:[A-Za-z0-9_-]{30,}",  # Telegram bot tokens
)


def _masked_group(match: re.Match[str]) -> str:
    """The match with its `value` group masked (used by the patterns whose context already proves a secret)."""
    start, end = match.start("value") - match.start(), match.end("value") - match.start()
    return match[0][:start] + _quoted_mask(match["value"]) + match[0][end:]


def _named(match: re.Match[str]) -> str:
    """`name=value`, `name: value`, `--name value`: masked when the name says secret and the value agrees.

    An auth scheme (`Authorization: Bearer ...`) is left for the credential patterns, which mask what follows it."""
    if match["value"].lower() in _AUTH_SCHEMES:
        return match[0]
    if _REFERENCED.search(match.string, max(0, match.start() - 256), match.start()):
        # `Application argocd/secret-sync: sync=Synced`: the name of an object, not a key; `https://my-webhook.svc:443`
        # a host and its port. The value is looked at on its own (`ConfigMap shop/api-token: password=...` still
        # masks the password)
        head = match[0][: match.start("value") - match.start()]
        return head + match.re.sub(_named, match["value"])
    return _masked_group(match) if _masks(secret_strength(match["key"]), match["value"]) else match[0]


def _directive(match: re.Match[str]) -> str:
    """`requirepass X`, `masterauth X`, `rootpw X`: a config line of a secret name and one value."""
    key, value = match["key"], match["value"]
    strength = secret_strength(key)
    compound = len(_words(key)) == 1 and _words(key)[0] not in _STRONG_WORDS | _WEAK_WORDS
    if strength is Strength.STRONG and (compound or credential_shaped(value, 6)) and not harmless_value(value):
        return _masked_group(match)
    return match[0]


# `Kind namespace/` right before a key: the key is that object's name (a Kubernetes name cannot hold `:` or `=`);
# `scheme://` and a host's first labels: the key is part of a URL's host.
_REFERENCED = re.compile(r"\b[A-Z][A-Za-z]+ [a-z0-9](?:[-a-z0-9.]*[a-z0-9])?/\Z|://[\w.-]*\Z")

# Kubernetes quotes the object an error is about: `secret "smtp-credentials" not found`, `secrets "x" is forbidden`,
# `... in Secret shop/db-creds`. Such a word right before a lower-case DNS name is the object's name, not a value.
_OBJECT_NAMED = re.compile(r"[\"'][a-z0-9](?:[-a-z0-9.]*[a-z0-9])?[\"']")
_OBJECT_PATH = re.compile(r"[a-z0-9](?:[-a-z0-9]*[a-z0-9])?/[a-z0-9](?:[-a-z0-9.]*[a-z0-9])?")
_ABOUT_OBJECT = re.compile(r"[ \t]+(?:not found|is forbidden|already exists|is invalid|is being deleted)")


def _names_a_secret(match: re.Match[str]) -> bool:
    key, value = match["key"], match["value"]
    if key.lower() not in ("secret", "secrets") or match[0][len(key):].strip() != value:
        return False  # `secret: x`, `secret is x`: a key and its value
    if _OBJECT_NAMED.fullmatch(value):
        return bool(_ABOUT_OBJECT.match(match.string, match.end()))
    return key == "Secret" and bool(_OBJECT_PATH.fullmatch(value))  # the kind, then namespace/name


def _prose(match: re.Match[str]) -> str:
    """"the admin password is X": masked when X is quoted or looks made up (`is wrong` stays). A quoted object name
    that an API error is about (`secret "db-creds" not found`) is the object's name, not its value."""
    value = match["value"]
    if _names_a_secret(match):
        return match[0]
    quoted = value[:1] in "'\"" and len(value) > 2
    lenient = len(value) >= 6 and (
        (any(c.isdigit() for c in value) and any(c.isalpha() for c in value))
        or bool(set(value) & set("!@#$%^&*+=/~?"))
        or (any(c.isupper() for c in value[1:]) and any(c.islower() for c in value))
    )
    return _masked_group(match) if (quoted or lenient) and not harmless_value(value) else match[0]


def _cookies(match: re.Match[str]) -> str:
    """Every cookie value of a Cookie or Set-Cookie header; Set-Cookie attributes stay readable."""
    attributes = {"path", "domain", "expires", "max-age", "samesite", "secure", "httponly", "priority", "partitioned"}

    def one(pair: re.Match[str]) -> str:
        if pair["name"].lower() in attributes or harmless_value(pair["val"]):
            return pair[0]
        return f"{pair['name']}={MASK}"

    return match["head"] + re.sub(r"(?P<name>[^\s=;,]+)=(?P<val>[^;\s,]*)", one, match["rest"])


def _url_secrets(match: re.Match[str]) -> str:
    """High-entropy path segments of a URL (webhook and bot tokens in the path)."""
    def segment(part: re.Match[str]) -> str:
        text = part[0]
        if re.fullmatch(r"[0-9a-fA-F-]+", text) or not credential_shaped(text, 20):
            return text
        return MASK
    url = match[0]
    scheme_host, _, rest = url.partition("://")
    host, slash, path = rest.partition("/")
    if not slash:
        return url
    return f"{scheme_host}://{host}/" + re.sub(r"(?<![\w-])[A-Za-z0-9_-]{20,}(?![\w-])", segment, path)


_SHAPE_RULE: tuple[re.Pattern[str], Replacement] = (
    re.compile("|".join(f"(?:{shape})" for shape in _SHAPES)), MASK)  # one pass for every shape
_WEBHOOK_RULE: tuple[re.Pattern[str], Replacement] = (  # chat webhooks: the path is the credential
    re.compile(r"(?i)\b(?P<head>hooks\.slack\.com/(?:services|workflows|triggers)/|discord(?:app)?\.com/api/"
               r"webhooks/|webhook\.office\.com/webhookb2/|outlook\.office\.com/webhook/)"
               rf"{_NOT_MASKED}(?P<value>[^\s\"'?#]+)"),
    _masked_group,
)
_PATTERNS: tuple[tuple[re.Pattern[str], Replacement], ...] = (
    (  # PEM private key blocks (RSA, EC, OPENSSH, ENCRYPTED, PGP...), also when the END line was cut off
        re.compile(r"-----BEGIN ([A-Z0-9 ]*)PRIVATE KEY( BLOCK)?-----.*?(?:-----END \1PRIVATE KEY( BLOCK)?-----|\Z)",
                   re.DOTALL),
        f"-----BEGIN PRIVATE KEY-----{MASK}-----END PRIVATE KEY-----",
    ),
    _SHAPE_RULE,
    (  # Authorization: Bearer X / Basic X
        re.compile(rf"(?i)\b(?:bearer|basic)\s+{_NOT_MASKED}(?P<value>[A-Za-z0-9._~+/=-]{{8,}})"),
        lambda m: _masked_group(m) if credential_shaped(m["value"]) else m[0],
    ),
    (  # scheme://user:password@host, also without a user (redis://:X@host)
        re.compile(rf"\b([a-zA-Z][a-zA-Z0-9+.-]*://[^\s:/@]*):{_NOT_MASKED}([^\s@/]+)@"),
        rf"\1:{MASK}@",
    ),
    _WEBHOOK_RULE,
    (re.compile(r"\bhttps?://[^\s\"'<>]+"), _url_secrets),
    (  # Cookie / Set-Cookie headers
        re.compile(r"(?im)(?P<head>\b(?:set-)?cookie[\"']?\s*[:=]\s*)(?P<rest>[^\r\n]*)"),
        _cookies,
    ),
    (  # mysql -pX, mysqldump --password X is a flag
        re.compile(rf"\b(?:mysql|mysqldump|mysqladmin|mariadb|mariadb-dump)\b[^\n|;&]*?\s-p{_NOT_MASKED}"
                   r"(?P<value>'[^'\n]+'|\"[^\"\n]+\"|[^\s'\"]+)"),
        _masked_group,
    ),
    (  # sshpass -p X, redis-cli -a X, curl -u user:X
        re.compile(rf"\b(?:sshpass\s+-p\s*|redis-cli\b[^\n|;&]*?\s-a\s+|curl\b[^\n|;&]*?\s(?:-u|--user)\s+['\"]?"
                   rf"[^\s:'\"]+:){_NOT_MASKED}(?P<value>[^\s'\"]+)"),
        _masked_group,
    ),
    (  # .pgpass: host:port:database:user:password
        re.compile(rf"(?m)^(?P<lead>[ \t]*[^\s:#]+:(?:\d+|\*):[^\s:]+:[^\s:]+:){_NOT_MASKED}(?P<value>\S+)$"),
        _masked_group,
    ),
    (  # --api-token X, -password 'X' (the value as the next word)
        re.compile(rf"(?<![\w-])--?(?P<key>[A-Za-z][\w-]*)[ \t]+{_NOT_MASKED}"
                   r"(?P<value>\"[^\"\n]*\"|'[^'\n]*'|[^\s\"'-][^\s\"';&|)]*)"),
        _named,
    ),
    (  # name=value, name: value, "name": "value" (env, properties, INI, YAML, JSON, URL queries, conn strings)
        re.compile(rf"(?<![\w.]){_KEYISH}(?P<key>[A-Za-z_][\w.-]*)[\"']?[ \t]*[:=][ \t]*{_NOT_MASKED}{_VALUE}"),
        _named,
    ),
    (  # config directives: requirepass X, masterauth X, rootpw X
        re.compile(rf"(?m)^[ \t]*(?P<key>[A-Za-z][\w.-]*)[ \t]+{_NOT_MASKED}(?P<value>\S+)[ \t]*(?:#.*)?$"),
        _directive,
    ),
    (  # prose: "the admin password is X", "token: 'X'", "with password X"
        re.compile(r"(?i)\b(?P<key>password|passphrase|passwd|pwd|secret|token|api[ _-]?key|access[ _-]?key)"
                   rf"(?:[ \t]+(?:is|was|=|:|of|to|set to|->)|[ \t]*[:=])?[ \t]+{_NOT_MASKED}"
                   r"(?P<value>\"[^\"\n]{3,}\"|'[^'\n]{3,}'|[^\s\"',;]+)"),
        _prose,
    ),
)


# Every other rule needs a name to meet its value (`=`, `:`) or words apart (whitespace): a text with neither (most
# of an object's values: names, labels, images without a tag) can only hold a secret by its shape. Redaction runs
# on every string of every object read, so this halves the evidence's CPU time on the hot path.
_SEPARATOR = re.compile(r"[\s:=]")
_WITHOUT_SEPARATOR = (_SHAPE_RULE, _WEBHOOK_RULE)


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


_MYSQL = re.compile(r"(?:^|/)(?:mysql|mysqldump|mysqladmin|mariadb|mariadb-dump)$")


class Redactor:
    """Redacts text and Kubernetes-shaped objects; `count` is how many values it replaced so far.

    One Redactor per answer: the count then says how many values that answer withheld.
    """

    def __init__(self, filters: Iterable[RedactionFilter] = ()) -> None:
        own = tuple((re.compile(f.pattern), f.replace_with) for f in filters)
        self._patterns = (*_PATTERNS, *own)
        self._plain = (*_WITHOUT_SEPARATOR, *own)  # the operator's rules run on every text
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
        for pattern, replacement in self._patterns if _SEPARATOR.search(text) else self._plain:
            if isinstance(replacement, str):
                text, replaced = pattern.subn(replacement, text)
                self.count += replaced
            else:
                text = self._rescanning(pattern, replacement, text)
        return text

    def _rescanning(self, pattern: re.Pattern[str], replacement: Callable[[re.Match[str]], str], text: str) -> str:
        """Like `pattern.sub`, but a match left as it was is searched again from its value on, so a harmless
        `loaded: secret_key=X` does not hide the `secret_key=X` inside it."""
        out, position = [], 0
        while (match := pattern.search(text, position)) is not None:
            replaced = replacement(match)
            if replaced == match[0]:
                resume = match.start("value") if "value" in pattern.groupindex else match.end()
                resume = max(resume, match.start() + 1)
                out.append(text[position:resume])
                position = resume
                continue
            self.count += 1
            out.append(text[position:match.start()] + replaced)
            position = match.end()
            if match.end() == match.start():
                out.append(text[position:position + 1])
                position += 1
        out.append(text[position:])
        return "".join(out)

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

    def _mask_named(self, name: str, value: Any) -> Any:
        """A value under a name: masked when the name and the value say secret, else redacted as text."""
        if not isinstance(value, str):
            return self._walk(value)
        if _masks(secret_strength(name), value):
            self.count += 1
            return MASK
        return self.redact_text(value)

    def _walk(self, node: Any) -> Any:
        if isinstance(node, str):
            return self.redact_text(node)
        if isinstance(node, list | tuple):
            return self._walk_list(list(node))
        if not isinstance(node, dict):
            return node
        kind = node.get("kind")
        out: dict[str, Any] = {}
        for key, value in node.items():
            if kind == "Secret" and key in ("data", "stringData") and isinstance(value, dict):
                out[key] = {k: self._secret_value(v) for k, v in value.items()}
            elif kind == "ConfigMap" and key == "data" and isinstance(value, dict):
                out[key] = {k: self._mask_named(k, v) for k, v in value.items()}
            elif key == "value" and isinstance(node.get("name"), str):
                out[key] = self._mask_named(node["name"], value)  # env var, Helm parameter, header
            elif key == "key" and "operator" in node and isinstance(value, str):
                out[key] = self.redact_text(value)  # a label or taint key of a selector requirement or toleration
            elif isinstance(key, str) and isinstance(value, str):
                out[key] = self._mask_named(key, value)
            else:
                out[key] = self._walk(value)
        return out

    def _walk_list(self, items: list[Any]) -> list[Any]:
        """Arguments: a secret flag's value is the next item (`["--api-token", "X"]`); `mysql ... -pX`."""
        out = [self._walk(item) for item in items]
        mysql = any(isinstance(i, str) and _MYSQL.search(i) for i in items)
        for index, item in enumerate(items):
            if not isinstance(item, str):
                continue
            if mysql and item.startswith("-p") and len(item) > 2 and out[index] != MASK:
                out[index] = f"-p{MASK}"
                self.count += 1
            follower = items[index + 1] if index + 1 < len(items) else None
            if (item.startswith("-") and "=" not in item and " " not in item and isinstance(follower, str)
                    and not follower.startswith("-") and out[index + 1] != MASK
                    and MASK not in str(out[index + 1])
                    and _masks(secret_strength(item.lstrip("-")), follower)):
                out[index + 1] = MASK
                self.count += 1
        return out

    def _secret_value(self, value: Any) -> str:
        """Every value of a Secret is withheld, however harmless it looks; already-masked ones count too."""
        self.count += 1
        return MASK
