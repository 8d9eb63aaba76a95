"""References to Applications and resources, as callers and tools name them."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, field_validator

# RFC 1123 names as Kubernetes accepts them for namespaces and most objects (generous on length).
_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")


class AppRef(BaseModel):
    """An Argo CD Application, `namespace:name` as argocd-server sends it in `Argocd-Application-Name`."""

    model_config = ConfigDict(frozen=True)

    namespace: str
    name: str

    @field_validator("namespace", "name")
    @classmethod
    def _valid_name(cls, value: str) -> str:
        if not value or len(value) > 253 or not _NAME.match(value):
            raise ValueError(f"{value!r} is not a valid Kubernetes name")
        return value

    @classmethod
    def parse(cls, text: str, default_namespace: str | None = None) -> AppRef:
        """Parse `namespace:name` (or a bare `name` when a default namespace is given)."""
        text = text.strip()
        if ":" in text:
            namespace, _, name = text.partition(":")
        elif default_namespace:
            namespace, name = default_namespace, text
        else:
            raise ValueError(f"application {text!r} must be written as namespace:name")
        return cls(namespace=namespace, name=name)

    def __str__(self) -> str:
        return f"{self.namespace}:{self.name}"


class ResourceRef(BaseModel):
    """A Kubernetes object inside an Application: kind and name, plus namespace and API group when needed."""

    model_config = ConfigDict(frozen=True)

    kind: str
    name: str
    namespace: str | None = None
    group: str = ""

    def __str__(self) -> str:
        group = f".{self.group}" if self.group else ""
        where = f"{self.namespace}/" if self.namespace else ""
        return f"{self.kind}{group} {where}{self.name}"
