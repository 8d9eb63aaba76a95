"""The tool catalog every front door offers: names, descriptions a model can act on, argument models.

Arguments never include the Application: the scope comes from the caller, never from the model.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, NamedTuple

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from llama_stack_argocd.context.errors import InvalidArgument
from llama_stack_argocd.context.scope import AppRef, ResourceRef
from llama_stack_argocd.context.service import ContextService


class NoArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ResourceArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: str = Field(description="Kubernetes kind, e.g. Deployment, Pod, Service, StatefulSet, Job.")
    name: str = Field(description="The resource's name.")
    namespace: str | None = Field(default=None, description="Its namespace; defaults to the Application's.")
    group: str | None = Field(default=None, description="API group when the kind is ambiguous, e.g. apps.")

    def ref(self) -> ResourceRef:
        return ResourceRef(kind=self.kind, name=self.name, namespace=self.namespace, group=self.group or "")


class LogArgs(ResourceArgs):
    container: str | None = Field(default=None, description="Container name; needed when the Pod has several.")
    tail_lines: int | None = Field(default=None, ge=1, le=10_000, description="How many of the last lines.")
    previous: bool = Field(default=False, description="True for the previous (crashed) instance of the container.")


Runner = Callable[[ContextService, AppRef, Any], Awaitable[dict[str, Any]]]


class ToolSpec(NamedTuple):
    name: str
    description: str
    args_model: type[BaseModel]
    run: Runner


TOOLS: list[ToolSpec] = [
    ToolSpec(
        "argocd_application",
        "The Argo CD Application the user is looking at: sync status and revision, health, conditions, the last "
        "sync operation (phase, message, failed resources) and every managed resource with its health and sync "
        "status. Start here to see what is out of sync or unhealthy.",
        NoArgs,
        lambda service, app, args: service.application(app),
    ),
    ToolSpec(
        "argocd_resource_manifest",
        "The live manifest of one resource of the Application (spec, status, conditions), without noise. "
        "Secret values are never shown, only their keys.",
        ResourceArgs,
        lambda service, app, args: service.manifest(app, args.ref()),
    ),
    ToolSpec(
        "argocd_resource_events",
        "Kubernetes events of a resource and, for a workload, of its ReplicaSets and Pods, grouped with counts, "
        "newest first. Use it to find scheduling, image pull, probe and crash reasons.",
        ResourceArgs,
        lambda service, app, args: service.events(app, args.ref()),
    ),
    ToolSpec(
        "argocd_containers",
        "Containers and init containers of a Pod or of a workload's Pods: state (waiting reason, running, "
        "terminated), ready, restart count, last termination reason and exit code, image, resources.",
        ResourceArgs,
        lambda service, app, args: service.containers(app, args.ref()),
    ),
    ToolSpec(
        "argocd_container_logs",
        "The last lines of a container's log, of a Pod or of each Pod of a workload; repeated lines collapsed, "
        "errors and stack traces kept. Set previous=true to read the instance that crashed.",
        LogArgs,
        lambda service, app, args: service.logs(app, args.ref(), args.container, args.tail_lines, args.previous),
    ),
    ToolSpec(
        "argocd_related_resources",
        "What a resource is connected to: its owners up the chain and its children (Deployment -> ReplicaSets -> "
        "Pods, CronJob -> Jobs), and for a Service its Endpoints and the Pods its selector matches.",
        ResourceArgs,
        lambda service, app, args: service.related(app, args.ref()),
    ),
]
_BY_NAME = {spec.name: spec for spec in TOOLS}


def input_schema(spec: ToolSpec) -> dict[str, Any]:
    """A plain JSON schema for the arguments: no titles, no `$defs`, nullable fields as plain optional ones."""
    schema = spec.args_model.model_json_schema()
    properties = {}
    for name, prop in schema.get("properties", {}).items():
        prop = {k: v for k, v in prop.items() if k not in ("title", "default")}
        if "anyOf" in prop:
            types = [t for t in prop.pop("anyOf") if t.get("type") != "null"]
            prop.update(types[0] if types else {})
        properties[name] = prop
    return {"type": "object", "properties": properties, "required": schema.get("required", [])}


async def run_tool(service: ContextService, app: AppRef, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    spec = _BY_NAME.get(name)
    if spec is None:
        raise InvalidArgument(f"There is no tool {name!r}.", hint=f"Tools: {', '.join(_BY_NAME)}.")
    try:
        args = spec.args_model.model_validate(arguments or {})
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'arguments'}: {e['msg']}" for e in error.errors())
        raise InvalidArgument(f"Invalid arguments for {name}: {problems}.") from error
    return await spec.run(service, app, args)
