"""The Lightspeed answer forms fed agent event sequences: plain text (the answer, activity lines, an error in-band),
the OLS JSON event stream, and the record a conversation keeps (the answer's text, never an activity line)."""

from __future__ import annotations

import json

from llama_stack_argocd.apis.lightspeed.render import TurnRecord, json_events, plain_text
from tests.unit.agent.turn_events import PREFACE_TEXT, approval_turn, failed_turn, stream, tool_turn

QUOTAS = {"UserQuota": 9}


async def text_of(events) -> tuple[str, TurnRecord]:
    record = TurnRecord()
    return "".join([chunk async for chunk in plain_text(stream(events), record)]), record


async def sse_of(events) -> tuple[list[dict], TurnRecord]:
    record = TurnRecord()
    chunks = [chunk async for chunk in json_events(stream(events), record, "conv-1", QUOTAS)]
    assert all(c.startswith("data: ") and c.endswith("\n\n") for c in chunks)
    return [json.loads(c[len("data: "):]) for c in chunks], record


async def test_plain_text_is_the_answer_with_an_activity_line_per_tool_call():
    text, record = await text_of(tool_turn())
    assert text == "\n_Looking up `argocd_application` (Deployment/guestbook-ui) ..._\n\nIt is crash-looping."
    assert "".join(record.text) == "It is crash-looping."  # what the conversation keeps: no activity line
    assert record.response_id == "resp_2" and record.error is None
    assert [c.name for c in record.tool_calls] == ["argocd_application"]
    assert [(r.status, r.round) for r in record.tool_results] == [("success", 1)]


async def test_the_diagnosis_block_is_answer_text_before_the_rest():
    text, record = await text_of(tool_turn(preface=True))
    assert text.startswith(PREFACE_TEXT) and text.endswith("It is crash-looping.")
    assert "".join(record.text) == PREFACE_TEXT + "It is crash-looping."


async def test_a_failed_tool_call_says_so_in_a_line_of_its_own():
    text, record = await text_of(tool_turn(failing=True))
    assert "\n_`argocd_application` failed: argocd\\_application did not answer in time._\n\n" in text
    assert record.tool_results[0].status == "error"


async def test_a_failure_is_written_in_band_and_kept_with_its_status():
    text, record = await text_of(failed_turn(504))
    assert text == "It is\n\nError: The model stopped sending for 30 s; the model call was stopped.\n"
    assert (record.error_status, record.response_id) == (504, None)
    assert record.error.startswith("The model stopped sending")


async def test_the_json_stream_follows_the_ols_event_shapes():
    events, record = await sse_of(tool_turn())
    assert [e["event"] for e in events] == ["start", "tool_call", "tool_result", "token", "token", "end"]
    assert events[0]["data"] == {"conversation_id": "conv-1"}
    assert events[1]["data"] == {"id": "call_1", "name": "argocd_application",
                                 "args": {"kind": "Deployment", "name": "guestbook-ui"}, "type": "tool_call"}
    assert events[2]["data"]["status"] == "success" and events[2]["data"]["round"] == 1
    assert [e["data"] for e in events[3:5]] == [{"id": 0, "token": "It is "}, {"id": 1, "token": "crash-looping."}]
    assert events[-1]["data"] == {"referenced_documents": [], "truncated": False, "input_tokens": 300,
                                  "output_tokens": 40}
    assert events[-1]["available_quotas"] == QUOTAS


async def test_the_json_stream_ends_a_failure_with_an_error_event_of_its_status():
    events, _ = await sse_of(failed_turn(502))
    assert events[-1] == {"event": "error", "data": {
        "status_code": 502, "response": "The assistant could not answer",
        "cause": "The model stopped sending for 30 s; the model call was stopped."}}


async def test_the_non_streamed_answer_is_built_from_the_record():
    _, record = await text_of(tool_turn(status="incomplete", reason="length"))
    record.report.truncated = True
    answer = record.answer("conv-1", QUOTAS)
    assert answer.response == "It is crash-looping." and answer.truncated
    assert (answer.input_tokens, answer.output_tokens, answer.available_quotas) == (300, 40, QUOTAS)
    assert [r.content for r in answer.tool_results] == ['{"status": "Degraded"}']


async def test_a_turn_waiting_for_approval_is_recorded_with_its_response():
    text, record = await text_of(approval_turn())
    assert text == "" and record.response_id == "resp_1" and record.error is None
