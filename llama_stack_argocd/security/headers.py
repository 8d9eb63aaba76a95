"""One identity per request: the raw header list, checked before anything reads it.

argocd-server checks RBAC on the FIRST value of `Argocd-Application-Name` (Go's `Header.Get`) and forwards every
value; dict-based readers (llama-stack's authentication, Starlette's `Headers` for some calls) keep the last. So a
request that repeats an identity header, or packs two values into one (a comma-joined Application or project, as
an HTTP client or proxy may merge repeated lines), could be authorised for one Application and served for
another. Such a request is refused whole, whichever route it is for. `Argocd-User-Groups` is comma-joined by
argocd-server itself: one such header is valid; its size and count are bounded so that no group list can stall
a request or grow a query. Framework-free: the ASGI side is `apis/edge.py`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from pydantic import ValidationError

from llama_stack_argocd.context.refs import AppRef

# Every header argocd-server's proxy extension sets (and the bearer secret it adds): one value each.
IDENTITY_HEADERS = (
    "authorization",
    "argocd-application-name",
    "argocd-project-name",
    "argocd-username",
    "argocd-user-id",
    "argocd-user-groups",
    "argocd-namespace",
    "argocd-target-cluster-name",
    "argocd-target-cluster-url",
)
_SINGLE = {name.encode() for name in IDENTITY_HEADERS}
# argocd-server's own rule for projects (a DNS subdomain); users and ids are free text without controls or commas.
_PROJECT = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
MAX_VALUE_CHARS = 1024
DEFAULT_MAX_GROUPS = 10_000
MAX_GROUPS_HEADER_BYTES = 1024 * 1024


class BadIdentity(ValueError):
    """A request whose identity headers cannot name exactly one user and one Application (HTTP 400)."""


def check_identity_headers(raw: Iterable[tuple[bytes, bytes]], max_groups: int = DEFAULT_MAX_GROUPS) -> None:
    """Raise `BadIdentity` for a repeated identity header or a malformed value; the message never echoes one."""
    seen: dict[bytes, bytes] = {}
    for name, value in raw:
        name = name.lower()
        if name not in _SINGLE:
            continue
        if name in seen:
            raise BadIdentity(
                f"The {_title(name)} header was sent more than once; a request names one identity and one "
                "Application."
            )
        seen[name] = value
    for name, value in seen.items():
        _check_value(name, value, max_groups)


def _title(name: bytes) -> str:
    return "-".join(part.capitalize() for part in name.decode().split("-"))


def _check_value(name: bytes, raw: bytes, max_groups: int) -> None:
    title = _title(name)
    if name == b"argocd-user-groups":
        if len(raw) > MAX_GROUPS_HEADER_BYTES:
            raise BadIdentity(f"The {title} header is over {MAX_GROUPS_HEADER_BYTES} bytes.")
    elif len(raw) > MAX_VALUE_CHARS:
        raise BadIdentity(f"The {title} header is over {MAX_VALUE_CHARS} bytes.")
    try:
        value = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise BadIdentity(f"The {title} header is not valid UTF-8.") from error
    if _CONTROL.search(value):
        raise BadIdentity(f"The {title} header holds control characters.")
    if name == b"argocd-application-name":
        if "," in value:
            raise BadIdentity(f"The {title} header names more than one Application; send exactly one.")
        try:
            AppRef.parse(value)
        except (ValueError, ValidationError) as error:
            raise BadIdentity(f"The {title} header must be one Application as namespace:name.") from error
    elif name == b"argocd-project-name":
        if "," in value:
            raise BadIdentity(f"The {title} header names more than one project; send exactly one.")
        if value.strip() and not _PROJECT.match(value.strip()):
            raise BadIdentity(f"The {title} header is not a valid Argo CD project name.")
    elif name in (b"argocd-username", b"argocd-user-id") and "," in value:
        raise BadIdentity(f"The {title} header names more than one user; send exactly one.")
    elif name == b"argocd-user-groups" and value.count(",") >= max_groups:
        raise BadIdentity(
            f"The {title} header lists more than {max_groups} groups (setting ARGOCD_ASSISTANT_MAX_GROUPS)."
        )
