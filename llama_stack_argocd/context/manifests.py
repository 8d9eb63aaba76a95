"""A live object without the noise the API server adds, as the model and the tools see it."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from llama_stack_argocd.context.redaction import MASK

# Bookkeeping the API server adds: large, and never the answer to "what is wrong".
_NOISE_METADATA = ("managedFields", "resourceVersion", "generation", "selfLink", "uid")
# The last-applied annotation repeats the whole spec (and, on a Secret, its values); the revision counter is
# bookkeeping of the Deployment controller.
_NOISE_ANNOTATIONS = frozenset({
    "kubectl.kubernetes.io/last-applied-configuration",
    "deployment.kubernetes.io/revision",
})


def clean_manifest(obj: Mapping[str, Any]) -> dict[str, Any]:
    """A deep copy without managedFields, the last-applied annotation and bookkeeping; Secrets keep their keys only.

    Spec, status, conditions, labels, owner references and creationTimestamp stay: they are the evidence. A Secret's
    `data`/`stringData` values become "[REDACTED]" (a `Redactor` counts them when it passes over the result).
    """
    cleaned = copy.deepcopy(dict(obj))
    metadata = cleaned.get("metadata")
    if isinstance(metadata, dict):
        for key in _NOISE_METADATA:
            metadata.pop(key, None)
        annotations = metadata.get("annotations")
        if isinstance(annotations, dict):
            kept = {k: v for k, v in annotations.items() if k not in _NOISE_ANNOTATIONS}
            if kept:
                metadata["annotations"] = kept
            else:
                metadata.pop("annotations")
    if cleaned.get("kind") == "Secret":
        for field in ("data", "stringData"):
            if isinstance(cleaned.get(field), dict):
                cleaned[field] = dict.fromkeys(cleaned[field], MASK)
    return cleaned
