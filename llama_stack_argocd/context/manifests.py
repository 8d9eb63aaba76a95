"""A live object without the noise the API server adds, as the model and the tools see it."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from llama_stack_argocd.context.redaction import MASK

_NOISE_METADATA = ("managedFields", "resourceVersion", "generation", "selfLink", "creationTimestamp", "uid")
_NOISE_ANNOTATIONS = (
    "kubectl.kubernetes.io/last-applied-configuration",
    "deployment.kubernetes.io/revision",
)


def clean_manifest(obj: Mapping[str, Any]) -> dict[str, Any]:
    """A copy without managedFields, the last-applied annotation and bookkeeping; Secrets keep their keys only.

    Spec, status, conditions and owner references stay: they are the evidence.
    """
    cleaned = copy.deepcopy(dict(obj))
    metadata = cleaned.get("metadata")
    if isinstance(metadata, dict):
        for key in _NOISE_METADATA:
            metadata.pop(key, None)
        annotations = {k: v for k, v in (metadata.get("annotations") or {}).items() if k not in _NOISE_ANNOTATIONS}
        if annotations:
            metadata["annotations"] = annotations
        else:
            metadata.pop("annotations", None)
    if cleaned.get("kind") == "Secret":
        for field in ("data", "stringData"):
            if isinstance(cleaned.get(field), dict):
                cleaned[field] = dict.fromkeys(cleaned[field], MASK)
    return cleaned
