"""The tool catalog: names, schemas a model can fill, argument validation, dispatch to the service."""

from __future__ import annotations

import json

import pytest

from llama_stack_argocd.context.errors import InvalidArgument, OutOfScope
from llama_stack_argocd.context.kube import KubernetesSource
from llama_stack_argocd.context.refs import AppRef
from llama_stack_argocd.context.service import ContextService
from llama_stack_argocd.context.settings import ContextSettings
from llama_stack_argocd.context.tools import TOOLS, TOOLS_BY_NAME, input_schema, run_tool
from tests.support import cluster as fx

APP = AppRef(namespace=fx.ARGOCD_NS, name=fx.APP)
NAMES = ["argocd_application", "argocd_resource_manifest", "argocd_resource_events", "argocd_containers",
         "argocd_container_logs", "argocd_related_resources"]


@pytest.fixture
def service(cluster):
    settings = ContextSettings(kubeconfig=cluster.kubeconfig_path)
    return ContextService(KubernetesSource(settings), settings)


def test_the_catalog_has_the_six_tools_in_order():
    assert [spec.name for spec in TOOLS] == NAMES
    for spec in TOOLS:
        assert len(spec.description) > 80, spec.name  # enough for a small model to choose the tool


def walk(node):
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from walk(value)


@pytest.mark.parametrize("name", NAMES)
def test_schemas_are_plain_and_never_let_the_model_choose_the_application(name):
    schema = input_schema(TOOLS_BY_NAME[name])
    assert schema["type"] == "object"
    json.dumps(schema)
    for node in walk(schema):
        assert not {"$defs", "$ref", "title", "anyOf"} & set(node), node
    assert not {"application", "app", "app_name", "appNamespace"} & set(schema["properties"])
    assert set(schema["required"]) <= set(schema["properties"])


def test_resource_and_log_schemas_say_what_is_required():
    manifest = input_schema(TOOLS_BY_NAME["argocd_resource_manifest"])
    assert manifest["required"] == ["kind", "name"]
    assert set(manifest["properties"]) == {"kind", "name", "namespace", "group"}
    assert manifest["properties"]["namespace"]["type"] == "string"
    logs = input_schema(TOOLS_BY_NAME["argocd_container_logs"])
    assert logs["required"] == ["kind", "name"]
    assert logs["properties"]["tail_lines"] == {
        "type": "integer", "minimum": 1, "maximum": 10_000, "description": "How many of the last lines (default 100)."}
    assert logs["properties"]["previous"]["type"] == "boolean"
    assert input_schema(TOOLS_BY_NAME["argocd_application"]) == {"type": "object", "properties": {}, "required": []}


async def test_tools_dispatch_to_the_service_inside_the_callers_application(service):
    status = await run_tool(service, APP, "argocd_application", {})
    assert status["sync"]["status"] == "OutOfSync"
    logs = await run_tool(service, APP, "argocd_container_logs",
                          {"kind": "Pod", "name": fx.CRASHING_POD, "previous": True, "tail_lines": 50})
    assert fx.CRASH_LINE in logs["logs"][0]["log"]
    related = await run_tool(service, APP, "argocd_related_resources",
                             {"kind": "Pod", "name": fx.CRASHING_POD, "namespace": "", "group": None})
    assert related["owners"][-1] == f"Deployment/{fx.DEPLOYMENT}"
    events = await run_tool(service, APP, "argocd_resource_events", {"kind": "deploy", "name": fx.DEPLOYMENT,
                                                                      "group": "apps"})
    assert events["events"][0]["reason"] == "BackOff"
    containers = await run_tool(service, APP, "argocd_containers", {"kind": "Pod", "name": f" {fx.HEALTHY_POD} "})
    assert containers["pods"][0]["containers"][0]["ready"] is True
    manifest = await run_tool(service, APP, "argocd_resource_manifest", {"kind": "Secret", "name": fx.SECRET})
    assert manifest["manifest"]["data"]["token"] == "[REDACTED]"


async def test_scope_still_applies_through_the_tools(service):
    with pytest.raises(OutOfScope):
        await run_tool(service, APP, "argocd_resource_manifest",
                       {"kind": "Secret", "name": fx.OTHER_SECRET, "namespace": fx.OTHER_NS})


async def test_bad_arguments_list_every_problem_readably(service):
    with pytest.raises(InvalidArgument) as bad:
        await run_tool(service, APP, "argocd_container_logs", {"kind": "Pod", "tail_lines": -3, "previous": "maybe"})
    message = bad.value.message
    assert message.startswith("Invalid arguments for argocd_container_logs:")
    assert "name is required" in message and "tail_lines" in message and "previous" in message
    assert "kind, name, namespace, group, container, tail_lines, previous" in bad.value.hint


async def test_an_application_argument_is_refused_with_the_scope_explained(service):
    with pytest.raises(InvalidArgument) as bad:
        await run_tool(service, APP, "argocd_application", {"application": "argocd:billing"})
    assert "unexpected argument application" in bad.value.message
    assert "argocd:guestbook" in bad.value.hint and "cannot be chosen" in bad.value.hint


async def test_unknown_tool_and_unknown_kind_are_invalid_arguments(service):
    with pytest.raises(InvalidArgument, match="There is no tool 'kubectl_exec'") as unknown:
        await run_tool(service, APP, "kubectl_exec", {"command": "sh"})
    assert all(name in unknown.value.hint for name in NAMES)
    with pytest.raises(InvalidArgument, match="Unsupported kind 'Gizmo'") as kind:
        await run_tool(service, APP, "argocd_resource_manifest", {"kind": "Gizmo", "name": "x"})
    assert "Deployment" in kind.value.hint


async def test_empty_or_missing_arguments_are_fine_for_the_application_tool(service):
    assert (await run_tool(service, APP, "argocd_application", None))["application"] == str(APP)


def test_nested_models_are_written_in_place_for_clients_that_do_not_follow_refs():
    from pydantic import BaseModel

    from llama_stack_argocd.context.schema import inline_refs

    class Leaf(BaseModel):
        port: int

    class Branch(BaseModel):
        leaves: list[Leaf]
        main: Leaf | None = None

    inlined = inline_refs(Branch.model_json_schema())
    assert "$defs" not in inlined and "$ref" not in str(inlined)
    assert inlined["properties"]["leaves"]["items"]["properties"]["port"]["type"] == "integer"
    assert inlined["properties"]["main"]["anyOf"][0]["required"] == ["port"]
