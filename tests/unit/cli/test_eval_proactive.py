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
