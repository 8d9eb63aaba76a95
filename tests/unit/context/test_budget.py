"""The budget: context windows per model, fair shares between the parts of a request, visible cuts."""

from __future__ import annotations

import pytest

from llama_stack_argocd.context.budget import (
    ATTACHMENTS,
    DEFAULT_CONTEXT_WINDOW,
    HISTORY,
    INSTRUCTIONS,
    TOOL_RESULTS,
    Budget,
    Section,
    context_window_for,
    cut_text,
    fair_allocate,
)
from llama_stack_argocd.context.tokens import count_tokens

LOG = "\n".join(f"2024-11-05T09:00:{i % 60:02d}Z INFO handled GET /api/orders/{i} in {i % 97} ms" for i in range(2000))


@pytest.mark.parametrize(("model", "window"), [
    (None, DEFAULT_CONTEXT_WINDOW),
    ("some/unknown-model", DEFAULT_CONTEXT_WINDOW),
    ("argocd-embedded/smollm2-135m-instruct", 8192),
    ("openai/gpt-4o", 128_000),
    ("openai/gpt-4.1-mini", 1_047_576),
    ("ollama/llama3.1:8b", 131_072),
    ("ollama/llama3:8b", 8192),
    ("vllm/Qwen/Qwen2.5-7B-Instruct", 32_768),
    ("gemini/models/gemini-2.5-pro", 1_048_576),
])
def test_known_context_windows(model, window):
    assert context_window_for(model) == window


def test_configured_windows_win_exact_id_then_pattern():
    overrides = {"ollama/llama3.1:8b": 16_384, r"^vllm/": 4096}
    assert context_window_for("ollama/llama3.1:8b", overrides) == 16_384
    assert context_window_for("vllm/anything", overrides) == 4096
    assert context_window_for("openai/gpt-4o", overrides) == 128_000
    assert context_window_for("x", {"[": 1}) == DEFAULT_CONTEXT_WINDOW  # a bad pattern is ignored
    assert Budget.for_model("vllm/a", windows=overrides).context_window == 4096


def test_reserve_and_shares_of_the_default_window():
    b = Budget()
    assert b.context_window == 8192
    assert b.reserve == 2048
    assert b.input_tokens == 6144
    total = sum(b.share(r) for r in (INSTRUCTIONS, HISTORY, ATTACHMENTS, TOOL_RESULTS))
    assert total <= b.input_tokens
    assert b.share(ATTACHMENTS) > b.share(INSTRUCTIONS)


def test_large_windows_are_capped_so_the_prompt_stays_small():
    b = Budget.for_model("openai/gpt-4.1")
    assert b.reserve == 4096
    assert b.share(ATTACHMENTS) == 16_384
    assert Budget(context_window=1000).reserve == 256


def test_fair_allocation_gives_unused_share_to_others():
    got = fair_allocate(1000, {"a": 100, "b": 5000, "c": 5000})
    assert got["a"] == 100
    assert got["b"] == got["c"] == 450
    got = fair_allocate(1000, {"a": 5000, "b": 5000}, weights={"a": 3, "b": 1})
    assert got == {"a": 750, "b": 250}
    got = fair_allocate(1000, {"a": 5000, "b": 5000}, caps={"a": 100})
    assert got == {"a": 100, "b": 900}
    assert fair_allocate(0, {"a": 10}) == {"a": 0}
    assert sum(fair_allocate(997, {"a": 600, "b": 600, "c": 1}).values()) <= 997


def test_fit_keeps_everything_that_fits():
    b = Budget()
    fitted = b.fit([Section(INSTRUCTIONS, "Be brief."), Section(ATTACHMENTS, "kind: Pod")])
    assert not fitted.truncated
    assert fitted.text == "Be brief.\n\nkind: Pod"
    assert fitted.tokens <= b.input_tokens


def test_fit_cuts_with_an_explicit_marker_and_reports_truncated():
    b = Budget(context_window=2048)
    fitted = b.fit([Section(INSTRUCTIONS, "Answer with evidence."), Section(TOOL_RESULTS, LOG, title="logs")])
    assert fitted.truncated
    [logs] = fitted.role(TOOL_RESULTS)
    assert logs.truncated and logs.omitted_lines > 0
    assert logs.text.endswith(f"[... {logs.omitted_lines:,} lines omitted ...]")
    assert logs.text.startswith("2024-11-05T09:00:00Z")  # keep="head"
    assert fitted.tokens <= b.input_tokens
    assert logs.tokens == count_tokens(logs.text)


def test_fit_shares_fairly_and_history_keeps_its_recent_end():
    b = Budget(context_window=4096)
    history = "\n".join(f"turn {i}: user asked about pod web-{i}" for i in range(600))
    fitted = b.fit([
        Section(HISTORY, history, keep="tail"),
        Section(ATTACHMENTS, LOG),
        Section(INSTRUCTIONS, "You are the Argo CD assistant."),
    ])
    [hist] = fitted.role(HISTORY)
    [att] = fitted.role(ATTACHMENTS)
    assert hist.text.startswith("[... ") and hist.text.endswith("turn 599: user asked about pod web-599")
    assert hist.tokens > 300 and att.tokens > 300  # both got a fair part, neither starved
    assert fitted.tokens <= b.input_tokens
    assert fitted.allocation[INSTRUCTIONS] < 50


def test_priority_serves_first_within_a_role():
    b = Budget(context_window=1400, answer_reserve=0)
    fitted = b.fit([Section(TOOL_RESULTS, LOG, "old", priority=0), Section(TOOL_RESULTS, LOG, "new", priority=1)])
    old, new = fitted.sections
    assert new.tokens > old.tokens


def test_a_single_long_line_is_cut_inside_with_a_marker():
    one_line_json = '{"items":[' + ",".join(f'{{"name":"pod-{i}","phase":"Running"}}' for i in range(3000)) + "]}"
    cut = cut_text(one_line_json, 200)
    assert cut.truncated and cut.tokens <= 200
    assert "characters omitted ...]" in cut.text
    assert cut.text.startswith('{"items":[')


def test_a_budget_below_the_marker_gives_nothing_but_says_truncated():
    cut = cut_text(LOG, 3)
    assert cut.text == "" and cut.truncated


@pytest.mark.parametrize("limit", [20, 57, 300, 1999])
def test_cut_text_never_exceeds_the_limit(limit):
    for keep in ("head", "tail"):
        cut = cut_text(LOG, limit, keep)
        assert cut.tokens <= limit
        assert count_tokens(cut.text) == cut.tokens
