"""`make eval --proactive`: the first prompt the agent composes with its own reads, scenarios seeded on the stand-in."""

from __future__ import annotations

from llama_stack_argocd.cli.eval import format_proactive, load_scenarios, main, proactive_eval


def test_a_crash_scenario_has_its_evidence_in_the_first_prompt_without_attachments():
    [scenario] = load_scenarios(only=["crashloop-db-auth"])
    results = proactive_eval([scenario])
    assert {r.model for r in results} == {None, "openai/gpt-4o"}
    for r in results:
        assert r.evidence == 1.0, r.missing  # the agent's reads alone hold every decisive string
        assert r.evidence_tokens > 0
    assert "agent's evidence alone 1/1 (100%)" in format_proactive(results)


def test_the_cli_prints_the_share(capsys):
    assert main(["--proactive", "--only", "crashloop-db-auth"]) == 0
    out = capsys.readouterr().out
    assert "first prompt, no tool call" in out and "1 scenarios" in out


def test_a_scripted_model_answers_in_one_round_with_the_evidence_and_needs_tool_rounds_without(capsys):
    from llama_stack_argocd.cli.eval import MAX_TOOL_ROUNDS, rounds_eval

    [(name, without, with_evidence)] = rounds_eval(load_scenarios(only=["imagepull-tag-not-found"]))
    assert name == "imagepull-tag-not-found" and with_evidence == 1  # answered from the first prompt
    assert 3 <= without <= MAX_TOOL_ROUNDS + 2  # the Application, then the resource's reads, then the answer
    assert main(["--rounds", "--only", "imagepull-tag-not-found"]) == 0
    assert "with proactive evidence     mean 1.00" in capsys.readouterr().out
