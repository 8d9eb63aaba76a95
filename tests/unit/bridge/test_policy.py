"""The bridge's rules for mcp-for-argocd's tools, and where a caller's own Argo CD token is found."""

import pytest

from llama_stack_argocd.bridge import credentials, policy
from llama_stack_argocd.context.errors import InvalidArgument, OutOfScope
from llama_stack_argocd.context.refs import AppRef

APP = AppRef(namespace="argocd", name="guestbook")
PARAMS = {"applicationName", "applicationNamespace"}


def test_reads_offered_writes_only_when_enabled_and_unknown_tools_count_as_writes():
    assert policy.offered("get_application", allow_writes=False)
    assert not policy.offered("sync_application", allow_writes=False)
    assert policy.offered("sync_application", allow_writes=True) and policy.needs_approval("sync_application")
    assert not policy.offered("list_applications", allow_writes=True)  # spans every Application
    assert not policy.offered("brand_new_tool", allow_writes=False) and policy.needs_approval("brand_new_tool")


def test_the_callers_application_is_filled_in_and_others_refused():
    forwarded = policy.scoped_arguments("get_application", {}, PARAMS, APP, "default")
    assert forwarded == {"applicationName": "guestbook", "applicationNamespace": "argocd"}
    with pytest.raises(OutOfScope):
        policy.scoped_arguments("get_application", {"applicationName": "billing"}, PARAMS, APP, "default")
    with pytest.raises(OutOfScope):
        policy.scoped_arguments("get_application", {"applicationNamespace": "payments"}, PARAMS, APP, "default")
    with pytest.raises(InvalidArgument):
        policy.scoped_arguments("get_application", {}, PARAMS, None, None)


def test_the_namespace_goes_under_the_tools_own_argument_name():
    forwarded = policy.scoped_arguments("get_application_managed_resources", {}, {"applicationName", "appNamespace"},
                                        APP, None)
    assert forwarded == {"applicationName": "guestbook", "appNamespace": "argocd"}


def test_no_call_may_pick_the_argo_cd_instance_or_another_project():
    with pytest.raises(OutOfScope):
        policy.scoped_arguments("get_application", {"argocdBaseUrl": "https://evil.example"}, PARAMS, APP, None)
    assert "argocdBaseUrl" not in policy.model_schema(
        {"type": "object", "properties": {"argocdBaseUrl": {"type": "string"}, "applicationName": {}},
         "required": ["argocdBaseUrl"]})["properties"]
    assert policy.scoped_arguments("get_appproject", {"projectName": "default"}, {"projectName"}, APP, "default")
    with pytest.raises(OutOfScope):
        policy.scoped_arguments("get_appproject", {"projectName": "payments"}, {"projectName"}, APP, "default")


def test_tokens_are_taken_from_mcp_tools_and_lightspeed_headers():
    tools = [{"type": "mcp", "server_label": "a", "headers": {"X-ArgoCD-API-Token": " tok "}},
             {"type": "mcp", "server_label": "b", "headers": {"x-other": "1"}},
             {"type": "function", "name": "f"}]
    kept, token = credentials.split_mcp_tools(tools)
    assert token == "tok" and [t.get("server_label", t.get("name")) for t in kept] == ["b", "f"]
    assert credentials.token_in_mcp_headers({"argocd": {"x-argocd-api-token": "u1"}}) == "u1"
    assert credentials.token_in_mcp_headers(None) is None
