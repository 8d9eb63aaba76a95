"""The turn planner on plain data: which tools are offered, when the history is trimmed and the chain restarts,
what the first round's input holds, and what every round asks of the model."""

from __future__ import annotations

from llama_stack_argocd.agent.composer import ContextComposer
from llama_stack_argocd.agent.core import AgentSettings
from llama_stack_argocd.agent.turn_events import ToolResult
from llama_stack_argocd.agent.planner import first_input, offered_tools, plan_turn, round_request
from llama_stack_argocd.context.redaction import Redactor
from tests.unit.agent.scripted_backend import ask, long_history

TOOLS = [{"type": "function", "name": "argocd_application", "description": "", "parameters": {}},
         {"type": "function", "name": "argocd_sync", "description": "", "parameters": {}}]


def writes(name: str) -> bool:
    return name == "argocd_sync"


def plan(request, history=(), seen=frozenset(), holding=False, window=2048, missing=(), **settings):
    composer = ContextComposer(lambda: Redactor(), default_context_window=window)
    return plan_turn(request, AgentSettings(**settings), composer, TOOLS[:1], list(missing), list(history),
                     set(seen), holding)


def test_write_tools_go_only_to_a_dialect_that_can_ask_and_never_into_a_conversation():
    names = lambda request: [t["name"] for t in offered_tools(TOOLS, writes, request)]  # noqa: E731
    assert names(ask(approvals_supported=True)) == ["argocd_application", "argocd_sync"]
    assert names(ask()) == ["argocd_application"]
    assert names(ask(approvals_supported=True, conversation="conv_1")) == ["argocd_application"]


def test_the_callers_own_tools_are_offered_after_ours_but_only_ours_run_here():
    own = {"type": "mcp", "server_label": "elsewhere", "server_url": "https://mcp.example"}
    planned = plan(ask(extra_tools=[own]))
    assert planned.tools == [TOOLS[0], own] and planned.offered == {"argocd_application"}


def test_a_history_over_its_share_is_trimmed_and_the_chain_restarts_with_nothing_seen():
    planned = plan(ask(previous_response_id="resp_old"), history=long_history(40), seen={"fp-manifest"})
    assert planned.previous_response_id is None and planned.seen == set()
    assert planned.history_omitted > 0 and planned.allocation.history_over
    assert planned.history_tokens <= planned.allocation.history
    assert "earlier conversation items" in str(planned.restart[0]["content"])


def test_held_calls_keep_the_chain_and_what_it_saw():
    planned = plan(ask(previous_response_id="resp_old"), history=long_history(40), seen={"fp"}, holding=True)
    assert planned.previous_response_id == "resp_old" and planned.seen == {"fp"}
    assert planned.restart == [] and planned.history_omitted == 0 and planned.allocation.history_over


def test_a_history_is_only_counted_when_the_turn_continues_a_chain():
    assert plan(ask(), history=long_history(40)).history_tokens == 0


def test_tool_groups_that_listed_nothing_are_named_in_the_instructions():
    assert "mcp::argocd" in plan(ask(), missing=["mcp::argocd"]).instructions
    assert "mcp::argocd" not in plan(ask()).instructions


def test_the_first_input_is_the_restart_the_answers_the_callers_items_then_the_question():
    request = ask(previous_response_id="resp_old", prior_items=[{"type": "message", "role": "user", "content": "x"}])
    planned = plan(request, history=long_history(40))
    answer = ToolResult("call_1", "argocd_sync", {}, "done", False, 0)
    items = first_input(planned, request, [answer])
    restart = len(planned.restart)
    assert items[:restart] == planned.restart
    assert items[restart] == {"type": "function_call_output", "call_id": "call_1", "output": "done"}
    assert items[restart + 1]["content"] == "x"
    assert items[-1] == {"type": "message", "role": "user", "content": "Why is guestbook degraded?"}
    assert first_input(plan(ask(question=None)), ask(question=None), []) == []


def test_a_round_asks_for_a_stored_stream_within_what_is_left_of_the_output_allowance():
    request = ask(options={"temperature": 0.2, "max_output_tokens": 500}, conversation="conv_1")
    planned = plan(request)
    assert planned.output_allowance == 500  # the caller's smaller limit wins
    body = round_request(request, planned, [], "resp_1", offer_tools=True, output_used=120)
    assert (body.stream, body.store, body.max_output_tokens, body.temperature) == (True, True, 380, 0.2)
    assert body.tool_choice is None and body.conversation == "conv_1" and body.previous_response_id == "resp_1"
    last = round_request(request, planned, [], None, offer_tools=False, output_used=10_000)
    assert last.tool_choice == "none" and last.max_output_tokens == 16


def test_a_restarted_chain_sends_the_evidence_again_but_no_finding_the_user_was_shown():
    from llama_stack_argocd.agent import diagnosis
    from llama_stack_argocd.agent.planner import findings_of
    from llama_stack_argocd.context.evidence import Evidence
    from llama_stack_argocd.context.findings import Finding, Severity

    shown = Finding(Severity.CRITICAL, "in CrashLoopBackOff", "restarted 7 times", resource="Pod shop/web-1",
                    code="CrashLoopBackOff")
    new = Finding(Severity.ERROR, "Deployment unavailable", "", resource="Deployment shop/web", code="ReplicaFailure")
    seen = {"fp-manifest", diagnosis.identity(shown)}
    planned = plan(ask(previous_response_id="resp_old"), history=long_history(40), seen=seen)
    assert planned.previous_response_id is None and planned.seen == {diagnosis.identity(shown)}
    later = Finding(Severity.CRITICAL, "in CrashLoopBackOff", "restarted 9 times", resource="Pod shop/web-1",
                    code="CrashLoopBackOff")  # the same problem, counted again
    assert findings_of(planned, Evidence("text", findings=(later, new))) == [new]


def test_a_log_attached_and_read_is_one_finding_with_the_lines_the_read_found_first():
    from llama_stack_argocd.agent.planner import merged_findings
    from llama_stack_argocd.context.findings import Finding, Severity

    tail = ["ERROR Worker (pid:9) exited with code 3", "ERROR Reason: Worker failed to boot."]
    attached = Finding(Severity.ERROR, "What the log of api-1 says", "Its errors.", tail, "Pod shop/api-1", "LogErrors")
    read = Finding(Severity.CRITICAL, "What the log of api-1/api says", "Its errors.",
                   ["ModuleNotFoundError: No module named 'shop.settings'", *tail], "Pod shop/api-1", "LogErrors")
    crash = Finding(Severity.CRITICAL, "in CrashLoopBackOff", "", ["restartCount: 4"], "Pod shop/api-1",
                    "CrashLoopBackOff")
    [crashed, log] = merged_findings([crash, attached], [read], set())
    assert crashed is crash and log.title == read.title and log.severity is Severity.CRITICAL
    assert log.evidence == read.evidence
    other = Finding(Severity.ERROR, "What the log of api-1 says", "Its errors.",
                    [tail[0], "ERROR cache warm-up failed"], "Pod shop/api-1", "LogErrors")
    [log] = merged_findings([other], [read], set())
    assert log.evidence == [*read.evidence, "ERROR cache warm-up failed"]


def test_a_finding_another_of_its_kind_says_all_of_is_shown_once():
    from llama_stack_argocd.agent.planner import merged_findings
    from llama_stack_argocd.context.findings import Finding, Severity

    held = ["health: Progressing", "Ingress web/site"]
    one = Finding(Severity.WARNING, "Application stuck Progressing", "", held, "Application argocd/site", "AppProg")
    two = Finding(Severity.WARNING, "Application stuck Progressing", "", held, "Application argocd/site-v2", "AppProg")
    apart = Finding(Severity.WARNING, "Application stuck Progressing", "", ["health: Progressing", "Job web/seed"],
                    "Application argocd/seed", "AppProg")
    assert merged_findings([one], [two, apart], set()) == [one, apart]
