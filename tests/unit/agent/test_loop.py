"""The turn loop on a scripted backend: tool rounds and their bound, approval hold and resume, the history trim
restart, chain versus conversation, model failures as the one `Failed` event, a client that goes away, an answer
that loops, and the diagnosis block."""

from __future__ import annotations

import asyncio
import json

import pytest

from llama_stack_argocd.agent.attachments import Attachment, AttachmentKind
from llama_stack_argocd.agent.turn_events import (
    ApprovalRequested,
    Failed,
    Finished,
    Passthrough,
    Preface,
    TextDelta,
    ToolCall,
    ToolResult,
)
from llama_stack_argocd.agent.generation import REPETITION_MARKER, ModelTimeout, TurnFailure
from llama_stack_argocd.agent.loop import CLIENT_LEFT
from tests.unit.agent.scripted_backend import READ_TOOL, WRITE_TOOL, Round, ask, long_history, rig

READ = (READ_TOOL, {"name": "guestbook"})


def kinds(events: list) -> list[str]:
    return [type(e).__name__ for e in events if not isinstance(e, Passthrough)]


def text(events: list) -> str:
    return "".join(e.text for e in events if isinstance(e, TextDelta))


def offered(request) -> set[str]:
    return {tool.name for tool in request.tools or []}


def inputs(request) -> list[dict]:
    """A round's input items as plain dicts (the request holds llama-stack's models)."""
    return [item.model_dump(exclude_none=True) for item in request.input]


def shown(events: list) -> list:
    return [e for e in events if not isinstance(e, Passthrough)]


async def test_a_tool_round_runs_our_tool_and_gives_its_output_to_the_next_round_of_the_chain():
    setup = rig(Round(calls=[READ]), Round(text="It is degraded."))
    events = await setup.turn()
    assert kinds(events) == ["ToolCall", "ToolResult", "TextDelta", "TextDelta", "TextDelta", "Finished"]
    call, result, finished = shown(events)[0], shown(events)[1], events[-1]
    assert (call.name, call.arguments, call.round) == (READ_TOOL, {"name": "guestbook"}, 1)
    assert setup.runtime.ran == [(READ_TOOL, {"name": "guestbook"})]
    assert json.loads(result.output) == {"tool": READ_TOOL, "name": "guestbook"} and not result.is_error
    first, second = setup.backend.requests
    assert second.previous_response_id == "resp_1" and second.conversation is None
    assert [(i["type"], i["call_id"], i["output"]) for i in inputs(second)] == [
        ("function_call_output", call.call_id, result.output)]
    assert second.tool_choice is None and READ_TOOL in offered(second)
    assert text(events) == "It is degraded. "
    assert (finished.response_id, finished.status) == ("resp_2", "completed")
    assert finished.report.tool_rounds == 1 and finished.report.tools_called == [READ_TOOL]
    assert (finished.report.input_tokens, finished.report.output_tokens) == (200, 20)
    assert finished.tool_results == (result,)


async def test_the_model_function_call_events_of_our_tools_are_not_passed_on():
    setup = rig(Round(calls=[READ]), Round(text="Done."))
    events = await setup.turn()
    passed = [e.raw for e in events if isinstance(e, Passthrough)]
    assert not [raw for raw in passed if getattr(getattr(raw, "item", None), "type", "") == "function_call"]
    assert [raw.type for raw in passed].count("response.created") == 2


async def test_the_round_bound_ends_the_turn_with_a_round_that_may_not_call_tools():
    setup = rig(Round(calls=[READ]), Round(calls=[READ]), Round(calls=[READ]), Round(text="never"), max_tool_rounds=2)
    events = await setup.turn()
    assert len(setup.backend.requests) == 3 and len(setup.backend.rounds) == 1
    assert [r.tool_choice for r in setup.backend.requests] == [None, None, "none"]
    assert len(setup.runtime.ran) == 2  # the third round's calls are not run
    finished = events[-1]
    assert isinstance(finished, Finished) and finished.response_id == "resp_3"
    assert finished.report.tool_rounds == 2
    assert [e.round for e in events if isinstance(e, ToolCall)] == [1, 2]


async def test_no_tool_rounds_means_the_first_round_may_not_call_tools():
    setup = rig(Round(calls=[READ]), max_tool_rounds=0)
    events = await setup.turn()
    assert setup.backend.requests[0].tool_choice == "none"
    assert setup.runtime.ran == [] and isinstance(events[-1], Finished) and events[-1].report.tool_rounds == 0


async def test_a_write_waits_for_approval_and_runs_once_when_the_next_request_approves_it():
    setup = rig(Round(calls=[(WRITE_TOOL, {"name": "guestbook"}), READ]), Round(text="Synced."), Round(text="Ok."))
    held = await setup.turn(approvals_supported=True)
    approval, finished = held[-2], held[-1]
    assert isinstance(approval, ApprovalRequested) and approval.name == WRITE_TOOL
    assert approval.approval_id == f"mcpr_{approval.call_id}"
    assert isinstance(finished, Finished) and finished.approvals == (approval,)
    assert finished.held_calls == {approval.call_id, "call_resp_1_1"}  # the whole round waits with it
    assert setup.runtime.ran == [] and len(setup.backend.requests) == 1

    resumed = await setup.turn(question=None, previous_response_id="resp_1", approvals={approval.approval_id: True},
                               approvals_supported=True)
    assert kinds(resumed)[:4] == ["ToolCall", "ToolResult", "ToolCall", "ToolResult"]
    assert sorted(name for name, _ in setup.runtime.ran) == [READ_TOOL, WRITE_TOOL]
    request = setup.backend.requests[1]
    assert request.previous_response_id == "resp_1"
    assert [item["call_id"] for item in inputs(request)] == [approval.call_id, "call_resp_1_1"]
    assert all(e.round == 0 for e in resumed if isinstance(e, ToolResult))

    await setup.turn(question=None, previous_response_id="resp_1", approvals={approval.approval_id: True},
                     approvals_supported=True)
    assert len(setup.runtime.ran) == 2  # repeating the request does not run the write again
    assert setup.backend.requests[2].input == []


async def test_a_declined_write_is_answered_as_not_run():
    setup = rig(Round(calls=[(WRITE_TOOL, {"name": "guestbook"})]), Round(text="Not synced."))
    held = await setup.turn(approvals_supported=True)
    approval = next(e for e in held if isinstance(e, ApprovalRequested))
    resumed = await setup.turn(question=None, previous_response_id="resp_1",
                               approvals={approval.approval_id: False}, approvals_supported=True)
    result = next(e for e in resumed if isinstance(e, ToolResult))
    assert result.is_error and json.loads(result.output)["error"] == "not_approved"
    assert setup.runtime.ran == []
    assert inputs(setup.backend.requests[1])[0]["output"] == result.output


async def test_write_tools_are_offered_only_where_the_user_can_approve_them():
    for fields, expected in [({"approvals_supported": True}, True), ({}, False),
                             ({"approvals_supported": True, "conversation": "conv_1"}, False)]:
        setup = rig(Round(text="Hi."))
        await setup.turn(**fields)
        assert (WRITE_TOOL in offered(setup.backend.requests[0])) is expected, fields
        assert READ_TOOL in offered(setup.backend.requests[0])


async def test_a_history_over_its_share_restarts_the_chain_from_what_fits():
    setup = rig(Round(text="Fine."), context_window=2048)
    setup.backend.histories["resp_old"] = long_history(40)
    events = await setup.turn(previous_response_id="resp_old")
    request = setup.backend.requests[0]
    assert request.previous_response_id is None
    items = inputs(request)
    assert "earlier conversation items" in json.dumps(items[0]["content"])
    assert "answer 39" in json.dumps(items) and "answer 0:" not in json.dumps(items)
    assert (items[-1]["role"], items[-1]["content"]) == ("user", "Why is guestbook degraded?")
    report = events[-1].report
    assert report.history_over_budget and report.history_items_omitted > 0 and report.truncated


async def test_a_history_within_its_share_keeps_the_chain():
    setup = rig(Round(text="Fine."), context_window=2048)
    setup.backend.histories["resp_old"] = long_history(2, length=5)
    events = await setup.turn(previous_response_id="resp_old")
    request = setup.backend.requests[0]
    assert request.previous_response_id == "resp_old" and len(request.input) == 1
    assert not events[-1].report.history_over_budget and events[-1].report.history_items_omitted == 0


async def test_calls_held_for_approval_keep_the_chain_whole():
    setup = rig(Round(calls=[(WRITE_TOOL, {})]), Round(text="Ok."), context_window=2048)
    await setup.turn(approvals_supported=True)
    setup.backend.histories["resp_1"] = long_history(40)
    events = await setup.turn(question=None, previous_response_id="resp_1", approvals_supported=True)
    assert setup.backend.requests[1].previous_response_id == "resp_1"
    assert events[-1].report.history_over_budget and events[-1].report.history_items_omitted == 0


async def test_a_conversation_keeps_the_rounds_itself_and_remembers_what_it_saw():
    setup = rig(Round(calls=[READ]), Round(text="Done."))
    events = await setup.turn(conversation="conv_1")
    first, second = setup.backend.requests
    assert first.conversation == second.conversation == "conv_1"
    assert first.previous_response_id is None and second.previous_response_id is None
    assert isinstance(events[-1], Finished)
    assert "argocd-agent:seen:conv_1" in setup.store.values and "argocd-agent:seen:resp_2" in setup.store.values


async def test_a_broken_model_stream_is_the_one_failure_with_its_status_and_the_round_is_settled():
    timeout = ModelTimeout("The model stopped sending for 30 s; the model call was stopped.")
    setup = rig(Round(text="partial", raises=timeout))
    events = await setup.turn()
    failed = events[-1]
    assert isinstance(failed, Failed) and (failed.status, failed.message) == (504, timeout.message)
    assert setup.backend.settled == [("resp_1", timeout.message)]
    assert failed.report is not None


async def test_a_failed_round_is_a_502_that_says_how_far_the_model_got():
    setup = rig(Round(text="one two", fail="upstream exploded"))
    events = await setup.turn()
    failed = events[-1]
    assert isinstance(failed, Failed) and failed.status == 502
    assert failed.message == "The model stopped after 2 tokens: upstream exploded"


async def test_a_round_that_cannot_continue_after_the_tools_fails_the_turn_in_band():
    setup = rig(Round(calls=[READ]), TurnFailure("model server unreachable"))
    events = await setup.turn()
    assert kinds(events) == ["ToolCall", "ToolResult", "Failed"]
    assert events[-1].status == 502 and "model server unreachable" in events[-1].message


async def test_a_first_round_the_backend_refuses_fails_before_any_event():
    setup = rig(TurnFailure("Response resp_gone not found", 404))
    with pytest.raises(TurnFailure) as refused:
        await setup.agent.start(ask(previous_response_id="resp_gone"))
    assert refused.value.status_code == 404


async def test_a_client_that_goes_away_stops_the_model_call_and_settles_the_round():
    setup = rig(Round(text="thinking", hang=True))
    events = await setup.agent.start(ask())
    seen, answering = [], asyncio.Event()

    async def read() -> None:
        async for event in events:
            seen.append(event)
            if isinstance(event, TextDelta):
                answering.set()

    reader = asyncio.create_task(read())
    await asyncio.wait_for(answering.wait(), timeout=10)
    reader.cancel()
    with pytest.raises(asyncio.CancelledError):
        await reader
    await asyncio.wait_for(setup.backend.was_settled.wait(), timeout=10)
    assert setup.backend.settled == [("resp_1", CLIENT_LEFT)]
    assert setup.backend.closed == ["resp_1"]
    assert not any(isinstance(e, (Finished, Failed)) for e in seen)


async def test_a_reader_that_closes_the_stream_stops_the_model_call_too():
    setup = rig(Round(text="thinking", hang=True))
    events = await setup.agent.start(ask())
    async for event in events:
        if isinstance(event, TextDelta):
            break
    await events.aclose()
    await asyncio.wait_for(setup.backend.was_settled.wait(), timeout=10)
    assert setup.backend.settled == [("resp_1", CLIENT_LEFT)] and setup.backend.closed == ["resp_1"]


async def test_an_answer_that_loops_is_stopped_marked_and_stored_as_incomplete():
    setup = rig(Round(text=" ".join(["again"] * 60)))
    events = await setup.turn()
    said = [e.text for e in events if isinstance(e, TextDelta)]
    assert said[-1] == REPETITION_MARKER and len(said) < 60
    finished = events[-1]
    assert isinstance(finished, Finished)
    assert (finished.status, finished.incomplete_reason) == ("incomplete", "repetition") and finished.report.truncated
    stored = setup.backend.stored[-1]
    assert stored.id == finished.response_id == "resp_1" and stored.status == "incomplete"
    assert stored.output[0].content[0].text.endswith(REPETITION_MARKER)


async def test_the_diagnosis_block_leads_the_answer_once_and_the_stored_response():
    warning = json.dumps({"apiVersion": "v1", "items": [
        {"reason": "BackOff", "type": "Warning", "message": "Back-off restarting failed container", "count": 9,
         "involvedObject": {"kind": "Pod", "name": "guestbook-ui-1"}, "lastTimestamp": "2026-11-25T06:41:00Z"}]})
    setup = rig(Round(calls=[READ]), Round(text="It restarts."), diagnosis_block={"scripted": True})
    events = await setup.turn(attachments=[Attachment(kind=AttachmentKind.EVENTS, content=warning)])
    prefaces = [e for e in events if isinstance(e, Preface)]
    assert len(prefaces) == 1 and prefaces[0].text.startswith("**What I checked**")
    assert kinds(events)[:3] == ["Preface", "ToolCall", "ToolResult"]
    finished = events[-1]
    assert finished.preface_id == prefaces[0].item_id
    stored = setup.backend.stored[-1]
    assert stored.id == "resp_2" and stored.output[0].id == prefaces[0].item_id
    assert stored.output[0].content[0].text == prefaces[0].text


PLANTED = "Zq8vN3kLw0pR7sTb"  # a credential-shaped value the model put into its tool arguments


async def test_tool_arguments_are_shown_redacted_but_run_as_the_model_wrote_them():
    """A model that read a secret (or was told one by a log line) may write it into its arguments: the events every
    dialect renders (activity lines, mcp_call items, Agents and Lightspeed tool calls, approvals) hold it masked."""
    arguments = {"name": "guestbook", "token": PLANTED, "query": f"password={PLANTED}"}
    setup = rig(Round(calls=[(READ_TOOL, arguments), (WRITE_TOOL, arguments)]), Round(text="Done."))
    held = await setup.turn(approvals_supported=True)
    approval = next(e for e in held if isinstance(e, ApprovalRequested))
    assert PLANTED not in repr(approval.arguments) and approval.arguments["name"] == "guestbook"
    assert held[-1].report.redactions == 2  # the approval shows the write's two values masked
    resumed = await setup.turn(question=None, previous_response_id="resp_1", approvals={approval.approval_id: True},
                               approvals_supported=True)
    shown_arguments = [e.arguments for e in resumed if isinstance(e, ToolCall | ToolResult)]
    assert len(shown_arguments) == 4
    assert all(PLANTED not in repr(a) and a["name"] == "guestbook" for a in shown_arguments)
    assert sorted(setup.runtime.ran, key=repr) == [(READ_TOOL, arguments), (WRITE_TOOL, arguments)]


async def test_arguments_the_model_did_not_write_as_json_are_shown_redacted_too():
    setup = rig(Round(calls=[(READ_TOOL, f"token={PLANTED}")]), Round(text="Done."))  # a JSON string, no object
    events = await setup.turn()
    call = next(e for e in events if isinstance(e, ToolCall))
    assert PLANTED not in repr(call.arguments)
