import pytest

from llama_stack_argocd.caller import acting_as, caller_from_headers, current_caller
from llama_stack_argocd.context.refs import AppRef


def test_headers_become_a_caller_case_insensitively():
    caller = caller_from_headers(
        {
            "argocd-username": "dev",
            "Argocd-User-Groups": "team-a, team-b",
            "ARGOCD-APPLICATION-NAME": "argocd:guestbook",
            "Argocd-Project-Name": "default",
        }
    )
    assert caller.application == AppRef(namespace="argocd", name="guestbook")
    assert caller.groups == ("team-a", "team-b")
    assert caller.principal == "dev"
    assert caller.project == "default"


@pytest.mark.parametrize("value", [":", "guestbook", "argocd:", "Bad_NS:x", "a:b:c"])
def test_malformed_application_header_is_rejected(value):
    with pytest.raises(ValueError):
        caller_from_headers({"Argocd-Application-Name": value})


def test_acting_as_restores_the_previous_caller():
    outer = caller_from_headers({"Argocd-Username": "a"})
    with acting_as(outer):
        with acting_as(None):
            assert current_caller() is None
        assert current_caller() == outer
    assert current_caller() is None
