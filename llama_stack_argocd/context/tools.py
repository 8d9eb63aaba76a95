"""The tool catalog every front door offers (llama-stack tool runtime, MCP): names, descriptions, argument models.

Arguments never include the Application: the scope comes from the caller, never from the model. `run_tool`
validates a model's arguments with the tool's pydantic model and answers bad ones with an `InvalidArgument` that
lists every problem, so the model can correct the call.
"""

from __future__ import annotations

import re

from collections.abc import Awaitable, Callable
from typing import Any, NamedTuple

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from llama_stack_argocd.context.errors import InvalidArgument
from llama_stack_argocd.context.schema import inline_refs
from llama_stack_argocd.context.refs import AppRef, ResourceRef
from llama_stack_argocd.context.service import ContextService
from llama_stack_argocd.context.settings import HARD_MAX_LOG_LINES


_OBJECT_NAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.:]*[A-Za-z0-9])?$")


class NoArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ResourceArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: str = Field(min_length=1, description="Kubernetes kind, e.g. Deployment, Pod, Service, StatefulSet, Job.")
    name: str = Field(min_length=1, description="The resource's name, exactly as argocd_application lists it.")
    namespace: str | None = Field(default=None, description="Its namespace; leave out for the Application's own.")
    group: str | None = Field(default=None, description="API group, only when the kind is ambiguous, e.g. apps.")

    @field_validator("kind", "name", mode="before")
    @classmethod
    def _strip(cls, value: Any) -> Any:
        return value.strip() if isinstance(value, str) else value

    @field_validator("name", "namespace")
    @classmethod
    def _object_name(cls, value: str | None) -> str | None:
        # Kubernetes names (RBAC ones may hold ':'); anything else never names an object and is refused unread.
        if value is not None and (len(value) > 253 or not _OBJECT_NAME.match(value)):
            raise ValueError(f"not a Kubernetes object name ({len(value)} characters)")
        return value

    @field_validator("namespace", "group", mode="before")
    @classmethod
    def _empty_is_none(cls, value: Any) -> Any:
        return (value.strip() or None) if isinstance(value, str) else value

    def ref(self) -> ResourceRef:
        return ResourceRef(kind=self.kind, name=self.name, namespace=self.namespace, group=self.group or "")


class LogArgs(ResourceArgs):
    container: str | None = Field(default=None, description="Container name; needed when the Pod has several.")
    tail_lines: int | None = Field(
        default=None, ge=1, le=HARD_MAX_LOG_LINES, description="How many of the last lines (default 100)."
    )
    previous: bool = Field(default=False, description="true to read the previous (crashed) instance of the container.")

    @field_validator("container", mode="before")
    @classmethod
    def _no_container_is_none(cls, value: Any) -> Any:
        return (value.strip() or None) if isinstance(value, str) else value


Runner = Callable[[ContextService, AppRef, Any], Awaitable[dict[str, Any]]]


class ToolSpec(NamedTuple):
    name: str
    description: str
    args_model: type[BaseModel]
    run: Runner


TOOLS: list[ToolSpec] = [
    ToolSpec(
        "argocd_application",
        "Status of the Argo CD Application the user is looking at: sync status and revision, health, conditions, "
        "the last sync operation (phase, message, resources that failed to sync) and every managed resource with "
        "its kind, name, health and sync status. Call this first; it takes no arguments.",
        NoArgs,
        lambda service, app, args: service.application(app),
    ),
    ToolSpec(
        "argocd_resource_manifest",
        "The live manifest of one resource of the Application (spec, status, conditions), without bookkeeping "
        "noise. Use it to check configuration: image, env, probes, replicas, selectors. Secret values are never "
        "shown, only their keys.",
        ResourceArgs,
        lambda service, app, args: service.manifest(app, args.ref()),
    ),
    ToolSpec(
        "argocd_resource_events",
        "Kubernetes events of a resource and, for a workload, of its ReplicaSets and Pods: grouped with counts, "
        "newest first. Use it to find why something is not running: scheduling, image pull, probe failures, "
        "back-offs, OOM kills.",
        ResourceArgs,
        lambda service, app, args: service.events(app, args.ref()),
    ),
    ToolSpec(
        "argocd_containers",
        "Containers and init containers of a Pod or of a workload's Pods: state (waiting with its reason, "
        "running, terminated), ready, restart count, last termination reason and exit code, image, resources. "
        "Use it for CrashLoopBackOff, ImagePullBackOff, OOMKilled and not-ready Pods.",
        ResourceArgs,
        lambda service, app, args: service.containers(app, args.ref()),
    ),
    ToolSpec(
        "argocd_container_logs",
        "The last lines of a container's log, for a Pod or for each Pod of a workload; repeated lines collapsed, "
        "errors and stack traces kept. Set previous=true to read the instance that crashed (after restarts or "
        "CrashLoopBackOff). Give container when the Pod has several.",
        LogArgs,
        lambda service, app, args: service.logs(app, args.ref(), args.container, args.tail_lines, args.previous),
    ),
    ToolSpec(
        "argocd_related_resources",
        "What a resource is connected to: its owners up the chain (Pod -> ReplicaSet -> Deployment), its children "
        "(Deployment -> ReplicaSets -> Pods, CronJob -> Jobs -> Pods), for a Service its Endpoints and the Pods "
        "its selector matches, for a Pod the Services that select it.",
        ResourceArgs,
        lambda service, app, args: service.related(app, args.ref()),
    ),
]
TOOLS_BY_NAME: dict[str, ToolSpec] = {spec.name: spec for spec in TOOLS}

_SCHEMA_NOISE = frozenset({"title", "default", "additionalProperties"})


def _clean(node: Any) -> Any:
    """Drop titles and defaults, turn `anyOf[X, null]` into X (optional is said by `required`)."""
    if isinstance(node, list):
        return [_clean(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {k: _clean(v) for k, v in node.items() if k not in _SCHEMA_NOISE}
    if "anyOf" in out:
        options = [o for o in out.pop("anyOf") if o.get("type") != "null"]
        if len(options) == 1:
            out.update(options[0])
        else:
            out["anyOf"] = options
    if "properties" in node:  # property names are data, not schema keywords: keep them all
        out["properties"] = {k: _clean(v) for k, v in node["properties"].items()}
    return out


def input_schema(spec: ToolSpec) -> dict[str, Any]:
    """A plain JSON schema for the arguments: no titles, no `$defs`, optional fields simply not `required`."""
    schema = spec.args_model.model_json_schema()
    cleaned = _clean(inline_refs(schema))
    return {"type": "object", "properties": cleaned.get("properties", {}), "required": list(schema.get("required", []))}


def _problems(error: ValidationError) -> tuple[str, list[str]]:
    problems, extra = [], []
    for item in error.errors():
        where = ".".join(map(str, item["loc"])) or "arguments"
        if item["type"] == "extra_forbidden":
            extra.append(where)
        elif item["type"] == "missing":
            problems.append(f"{where} is required")
        else:
            problems.append(f"{where}: {item['msg']}")
    if extra:
        problems.append(f"unexpected argument{'s' if len(extra) > 1 else ''} {', '.join(extra)}")
    return "; ".join(problems), extra


def tool_spec(name: str) -> ToolSpec:
    """The catalog entry for `name`; an unknown name is an `InvalidArgument` that lists the tools there are."""
    spec = TOOLS_BY_NAME.get(name)
    if spec is None:
        raise InvalidArgument(f"There is no tool {name!r}.", hint=f"Tools: {', '.join(TOOLS_BY_NAME)}.")
    return spec


async def run_tool(service: ContextService, app: AppRef, name: str, arguments: dict[str, Any] | None) -> dict[str, Any]:
    """Validate `arguments` for tool `name` and run it inside `app`; unknown tools and bad arguments are refused."""
    spec = tool_spec(name)
    try:
        args = spec.args_model.model_validate(arguments or {})
    except ValidationError as error:
        problems, extra = _problems(error)
        accepted = ", ".join(spec.args_model.model_fields) or "none"
        hint = f"{name} accepts: {accepted}."
        if extra:
            hint += f" The Application is always {app} (the one the user has open); it cannot be chosen."
        raise InvalidArgument(f"Invalid arguments for {name}: {problems}.", hint=hint) from error
    return await spec.run(service, app, args)
