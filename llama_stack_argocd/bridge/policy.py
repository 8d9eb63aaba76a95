"""What the agent may do with mcp-for-argocd's tools.

mcp-for-argocd reads and writes through argocd-server with whatever token it is handed. The bridge narrows that
to the caller's one Application: read tools are offered, write tools only when the distribution enables them (and
then each call waits for the user's approval), tools that range over every Application are not offered, and every
call's arguments are checked against the caller's Application before anything is forwarded. Tools this module
does not know (a newer server's) count as writes: offering an unknown verb is the unsafe mistake.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from llama_stack_argocd.context.errors import NoApplication, OutOfScope
from llama_stack_argocd.context.refs import AppRef


class Access(StrEnum):
    READ = "read"
    WRITE = "write"
    UNSCOPED = "unscoped"  # reads across Applications or clusters: outside one Application's scope


TOOLS: dict[str, Access] = {
    "get_application": Access.READ,
    "get_application_resource_tree": Access.READ,
    "get_application_managed_resources": Access.READ,
    "get_application_workload_logs": Access.READ,
    "get_application_events": Access.READ,
    "get_resource_events": Access.READ,
    "get_resource": Access.READ,
    "get_resources": Access.READ,
    "get_resource_actions": Access.READ,
    "get_appproject": Access.READ,
    "list_applications": Access.UNSCOPED,
    "list_clusters": Access.UNSCOPED,
    "create_application": Access.WRITE,
    "update_application": Access.WRITE,
    "delete_application": Access.WRITE,
    "sync_application": Access.WRITE,
    "set_application_parameters": Access.WRITE,
    "run_resource_action": Access.WRITE,
}

# Arguments naming the Argo CD instance: the bridge alone decides where a token goes.
_INSTANCE_ARGUMENTS = ("argocdBaseUrl",)
_APP_NAMESPACE_ARGUMENTS = ("applicationNamespace", "appNamespace")


def access(tool: str) -> Access:
    return TOOLS.get(tool, Access.WRITE)


def offered(tool: str, allow_writes: bool) -> bool:
    kind = access(tool)
    return kind is Access.READ or (kind is Access.WRITE and allow_writes)


def needs_approval(tool: str) -> bool:
    return access(tool) is Access.WRITE


def model_schema(schema: dict[str, Any] | None) -> dict[str, Any]:
    """The tool's input schema as the model sees it: without the per-call Argo CD instance override."""
    schema = dict(schema or {"type": "object", "properties": {}})
    hidden = set(_INSTANCE_ARGUMENTS)
    properties = {k: v for k, v in (schema.get("properties") or {}).items() if k not in hidden}
    schema["properties"] = properties
    if "required" in schema:
        schema["required"] = [name for name in schema["required"] if name not in hidden]
    return schema


def scoped_arguments(
    tool: str, arguments: dict[str, Any], parameters: set[str], app: AppRef | None, project: str | None
) -> dict[str, Any]:
    """The arguments to forward, with the caller's Application filled in; refused when they name another one.

    `parameters` are the tool's own argument names: the Application's namespace is set under whichever it has.
    """
    if access(tool) is Access.UNSCOPED:
        raise OutOfScope(f"{tool} reads across Applications; this assistant answers about one Application.")
    if app is None:
        raise NoApplication()
    for name in _INSTANCE_ARGUMENTS:
        if arguments.get(name):
            raise OutOfScope(f"{tool} may not choose the Argo CD instance ({name}); the assistant's own is used.")
    forwarded = {k: v for k, v in arguments.items() if k not in _INSTANCE_ARGUMENTS}
    if tool == "get_appproject":
        if forwarded.get("projectName") != project:
            raise OutOfScope(
                f"Project {forwarded.get('projectName')!r} is not the Application's project ({project or 'unknown'})."
            )
        return forwarded
    if tool == "create_application":
        raise OutOfScope("Creating another Application is outside the scope of this Application's assistant.")
    named = forwarded.get("applicationName")
    if named not in (None, "", app.name):
        raise OutOfScope(f"Application {named!r} is not the one in scope ({app}).", hint="Ask about this Application.")
    forwarded["applicationName"] = app.name
    for name in _APP_NAMESPACE_ARGUMENTS:
        if forwarded.get(name) not in (None, "", app.namespace):
            raise OutOfScope(f"Application namespace {forwarded[name]!r} is not {app.namespace!r} ({app}).")
    for name in _APP_NAMESPACE_ARGUMENTS:
        if name in parameters:
            forwarded[name] = app.namespace
    return forwarded
