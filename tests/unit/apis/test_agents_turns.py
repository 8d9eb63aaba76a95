"""The Agents dialect fed agent event sequences: the chunks the extension reads (text deltas of `step_progress`),
tool calls as tool-call deltas and a tool-execution step, activity lines kept out of the stored turn, the stop
reason of an answer cut by the output-token limit, and a failure as the one error shape."""

from __future__ import annotations

from llama_stack_argocd.apis.legacy_agents.models import Message
from llama_stack_argocd.apis.legacy_agents.turns import TurnBuilder, render_turn
from tests.unit.agent.turn_events import PREFACE_TEXT, failed_turn, stream, tool_turn


async def chunks_of(events) -> tuple[list[dict], TurnBuilder]:
    builder = TurnBuilder(session_id="s-1", input_messages=[Message(role="user", content="Why?")])
    return [chunk async for chunk in render_turn(stream(events), builder)], builder


def payloads(chunks: list[dict]) -> list[dict]:
    return [c["event"]["payload"] for c in chunks]


def shown_text(chunks: list[dict]) -> str:
    """What the extension shows: every text delta of a `step_progress` event."""
    return "".join(p["delta"]["text"] for p in payloads(chunks)
                   if p["event_type"] == "step_progress" and p["delta"]["type"] == "text")


async def test_a_tool_turn_is_an_inference_step_a_tool_execution_step_and_the_answers_step():
    chunks, builder = await chunks_of(tool_turn())
    kinds = [(p["event_type"], p.get("step_type"), p.get("delta", {}).get("type")) for p in payloads(chunks)]
    assert kinds == [
        ("turn_start", None, None), ("step_start", "inference", None),
        ("step_progress", "inference", "tool_call"), ("step_progress", "inference", "text"),
        ("step_complete", "inference", None), ("step_complete", "tool_execution", None),
        ("step_start", "inference", None),
        ("step_progress", "inference", "text"), ("step_progress", "inference", "text"),
        ("step_complete", "inference", None), ("turn_complete", None, None),
    ]
    call = payloads(chunks)[2]["delta"]["tool_call"]
    assert call == {"call_id": "call_1", "tool_name": "argocd_application",
                    "arguments": {"kind": "Deployment", "name": "guestbook-ui"}}
    execution = payloads(chunks)[5]["step_details"]
    assert execution["tool_responses"] == [{"call_id": "call_1", "tool_name": "argocd_application",
                                            "content": '{"status": "Degraded"}'}]
    assert builder.response_id == "resp_2" and builder.error is None


async def test_the_activity_line_is_shown_but_not_stored_in_the_turn():
    chunks, builder = await chunks_of(tool_turn())
    assert shown_text(chunks).startswith("\n_Looking up `argocd_application` (Deployment/guestbook-ui) ..._")
    turn = payloads(chunks)[-1]["turn"]
    assert turn["output_message"]["content"] == "It is crash-looping."
    first_step = turn["steps"][0]["model_response"]
    assert first_step["content"] == "" and first_step["stop_reason"] == "end_of_message"
    assert turn["steps"][-1]["model_response"]["content"] == "It is crash-looping."
    assert builder.turn().output_message.content == "It is crash-looping."


async def test_the_diagnosis_block_is_text_of_the_answer():
    chunks, builder = await chunks_of(tool_turn(preface=True))
    assert shown_text(chunks).startswith(PREFACE_TEXT)
    assert builder.turn().output_message.content == PREFACE_TEXT + "It is crash-looping."


async def test_an_answer_cut_by_the_output_token_limit_stops_out_of_tokens():
    chunks, builder = await chunks_of(tool_turn(status="incomplete", reason="length"))
    turn = payloads(chunks)[-1]["turn"]
    assert turn["output_message"]["stop_reason"] == "out_of_tokens"
    assert turn["steps"][-1]["model_response"]["stop_reason"] == "out_of_tokens"
    _, stopped = await chunks_of(tool_turn(status="incomplete", reason="repetition"))
    assert stopped.stop_reason == "end_of_turn"  # a loop the agent stopped is not the token limit


async def test_a_failure_is_one_error_chunk_with_its_status_and_no_turn():
    chunks, builder = await chunks_of(failed_turn(504))
    assert chunks[-1] == {"error": {"message": "The model stopped sending for 30 s; the model call was stopped.",
                                    "code": "504"}}
    assert (builder.error_status, builder.response_id) == (504, None)
    assert not [p for p in payloads(chunks[:-1]) if p["event_type"] == "turn_complete"]
