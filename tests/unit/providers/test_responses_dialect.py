"""The Responses dialect fed agent event sequences: one numbered stream per turn (each item at its own output
index), our tool calls as `mcp_call` items with their activity line, the diagnosis block as a message item, the
final response with the server-side calls first, and a failure as the one error shape."""

from __future__ import annotations

import pytest

from llama_stack_argocd.agent.generation import TurnFailure
from llama_stack_argocd.providers.responses.dialect import agent_request_from, collect_response, stream_events
from tests.unit.agent.turn_events import PREFACE_TEXT, approval_turn, failed_turn, stream, tool_turn


async def rendered(events) -> list:
    return [event async for event in stream_events(stream(events))]


def of_type(events: list, kind: str) -> list:
    return [e for e in events if getattr(e, "type", None) == kind]


async def test_a_turn_is_one_numbered_stream_that_opens_once_and_closes_with_the_last_response():
    events = await rendered(tool_turn())
    assert [e.sequence_number for e in events] == list(range(1, len(events) + 1))
    assert [e.type for e in events[:2]] == ["response.created", "response.in_progress"]
    assert len(of_type(events, "response.created")) == 1 and len(of_type(events, "response.in_progress")) == 1
    closing = events[-1]
    assert closing.type == "response.completed" and closing.response.id == "resp_2"
    assert [getattr(e, "delta", None) for e in of_type(events, "response.output_text.delta")] == [
        "It is ", "crash-looping."]


async def test_our_tool_call_is_an_mcp_call_item_with_its_activity_line():
    events = await rendered(tool_turn())
    line = of_type(events, "response.reasoning_summary_text.delta")
    assert len(line) == 1 and "Looking up `argocd_application` (Deployment/guestbook-ui)" in line[0].delta
    added = [e for e in of_type(events, "response.output_item.added") if e.item.type == "mcp_call"]
    done = [e for e in of_type(events, "response.output_item.done") if e.item.type == "mcp_call"]
    assert [e.item.id for e in added] == [e.item.id for e in done] == ["mcp_call_1"]
    assert done[0].item.output == '{"status": "Degraded"}' and done[0].item.server_label == "argocd"
    assert of_type(events, "response.mcp_call.completed") and not of_type(events, "response.mcp_call.failed")
    assert not [e for e in events if getattr(getattr(e, "item", None), "type", None) == "function_call"]


async def test_every_item_has_its_own_output_index_and_every_event_about_it_carries_it():
    events = await rendered(tool_turn())
    index: dict[str, set[int]] = {}
    for event in events:
        item_id = getattr(event, "item_id", None) or getattr(getattr(event, "item", None), "id", None)
        if item_id and hasattr(event, "output_index"):
            index.setdefault(item_id, set()).add(event.output_index)
    assert all(len(found) == 1 for found in index.values()), index
    order = [found.pop() for found in index.values()]
    assert order == list(range(len(order)))  # numbered as they first appear: reasoning, mcp call, answer
    assert list(index) == ["rs_call_1", "mcp_call_1", "msg_2"]


async def test_the_final_response_lists_the_server_side_calls_before_the_answer_with_the_turns_figures():
    closing = (await rendered(tool_turn()))[-1].response
    assert [item.type for item in closing.output] == ["mcp_call", "message"]
    assert closing.metadata["argocd_tool_rounds"] == "1"
    assert closing.metadata["argocd_tools_called"] == "argocd_application"


async def test_the_diagnosis_block_is_a_whole_message_item_first_in_the_stream_and_in_the_response():
    turn = tool_turn(preface=True)
    events = await rendered(turn)
    block = turn[-1].raw.output[0]
    about = [e for e in events if getattr(e, "item_id", None) == block.id
             or getattr(getattr(e, "item", None), "id", None) == block.id]
    assert [e.type for e in about] == [
        "response.output_item.added", "response.content_part.added", "response.output_text.delta",
        "response.output_text.done", "response.content_part.done", "response.output_item.done"]
    assert {e.output_index for e in about} == {0}
    assert about[2].delta == PREFACE_TEXT and about[-1].item == block
    assert events.index(about[0]) < events.index(of_type(events, "response.output_item.added")[-1])
    closing = events[-1].response
    assert [item.type for item in closing.output] == ["message", "mcp_call", "message"]
    assert closing.output[0] == block


async def test_a_failed_tool_call_is_shown_as_failed_with_its_message():
    events = await rendered(tool_turn(failing=True))
    assert of_type(events, "response.mcp_call.failed")
    done = [e for e in of_type(events, "response.output_item.done") if e.item.type == "mcp_call"][0]
    assert "did not answer in time" in done.item.error and done.item.output is None
    lines = [e.delta for e in of_type(events, "response.reasoning_summary_text.delta")]
    assert len(lines) == 2 and "`argocd_application` failed: argocd\\_application did not answer in time." in lines[1]


async def test_an_answer_cut_short_closes_the_stream_as_incomplete():
    events = await rendered(tool_turn(status="incomplete", reason="length"))
    assert events[-1].type == "response.incomplete" and events[-1].response.status == "incomplete"


async def test_calls_waiting_for_approval_are_approval_requests_not_function_calls():
    events = await rendered(approval_turn())
    added = of_type(events, "response.output_item.added")
    assert [e.item.type for e in added] == ["mcp_approval_request"]
    assert added[0].item.id == "mcpr_call_9" and added[0].item.name == "argocd_sync"
    closing = events[-1].response
    assert [item.type for item in closing.output] == ["mcp_approval_request"]


async def test_a_failure_is_one_error_message_with_its_status():
    events = await rendered(failed_turn(504))
    assert events[-1] == {"error": {"message": "The model stopped sending for 30 s; the model call was stopped.",
                                    "code": "504"}}
    assert events[-2].type == "response.output_text.delta"


async def test_the_non_streamed_response_is_the_final_one_and_a_failure_raises_the_one_failure_type():
    response = await collect_response(stream(tool_turn()))
    assert response.id == "resp_2" and [item.type for item in response.output] == ["mcp_call", "message"]
    assert response.output[0].output == '{"status": "Degraded"}'
    with pytest.raises(TurnFailure) as failure:
        await collect_response(stream(failed_turn(504)))
    assert failure.value.status_code == 504
    with pytest.raises(TurnFailure):
        await collect_response(stream(tool_turn()[:-1]))  # no end: never an empty answer


def test_a_request_takes_the_question_from_the_last_user_message_and_the_approvals_apart():
    from llama_stack_api import CreateResponseRequest

    request = agent_request_from(CreateResponseRequest(model="m", input=[
        {"type": "message", "role": "user", "content": "first question"},
        {"type": "mcp_approval_response", "approval_request_id": "mcpr_call_9", "approve": True},
        {"type": "message", "role": "user", "content": "Sync it?"},
    ]))
    assert request.question == "Sync it?" and request.approvals == {"mcpr_call_9": True}
    assert [getattr(i, "type", None) or i["type"] for i in request.prior_items] == ["message"]
    assert request.approvals_supported
