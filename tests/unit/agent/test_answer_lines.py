"""The text the server writes into answers: activity lines and the diagnosis block, read as a Markdown renderer
(CommonMark, markdown-it) reads them. Nothing the extension double-escapes (`"`, `&`, `<`, `>`) may land in a code
span or block, and values from the model or the cluster must stay plain text."""

from __future__ import annotations

import json

import pytest
from markdown_it import MarkdownIt

from llama_stack_argocd.agent import activity, diagnosis
from llama_stack_argocd.agent.turn_events import ToolCall, ToolResult
from llama_stack_argocd.context.findings import Finding
from llama_stack_argocd.context.findings.base import Severity

ESCAPED = set('"&<>')
PROBE = 'Readiness probe failed: Get "http://10.0.0.13:8080/healthz?a=1&b=2": <nil> connection refused'
MARKUP = "name_with_*stars* and `ticks` [link](http://x) | pipe ~~gone~~ \\ back"


def tokens(markdown: str) -> list:
    out = []
    # Raw HTML off: the extension HTML-escapes the text before Markdown, so `<nil>` shows as written.
    for token in MarkdownIt("commonmark", {"html": False}).enable("strikethrough").enable("table").parse(markdown):
        out.append(token)
        out += token.children or []
    return out


def code(markdown: str) -> list[str]:
    return [t.content for t in tokens(markdown) if t.type in ("code_inline", "fence", "code_block")]


def text(markdown: str) -> str:
    return "".join(t.content for t in tokens(markdown) if t.type in ("text", "code_inline"))


def finding(evidence: list[str], detail: str = "It fails.", title: str = "Readiness probe failing") -> Finding:
    return Finding(Severity.WARNING, title, detail, evidence, "Pod shop/web-1", "ReadinessProbeFailing")


# -- activity lines --------------------------------------------------------------------------------------------------


def test_activity_line_names_the_tool_and_what_it_reads():
    line = activity.looking_up(ToolCall("c1", "argocd_resource_events", {"kind": "Deployment", "name": "web"}, 1))
    assert line == "\n_Looking up `argocd_resource_events` (Deployment/web) ..._\n\n"
    bare = activity.looking_up(ToolCall("c2", "argocd_application", {}, 1))
    assert bare == "\n_Looking up `argocd_application` ..._\n\n"
    extra = activity.looking_up(ToolCall("c3", "argocd_container_logs",
                                         {"kind": "Pod", "name": "p", "container": None, "previous": True}, 1))
    assert "(Pod/p, previous=True)" in extra


def test_values_from_the_model_stay_plain_text_on_one_line():
    line = activity.looking_up(ToolCall("c1", "argocd_resource", {"kind": "Pod", "name": MARKUP + "\n# heading"}, 1))
    assert line.strip().count("\n") == 0
    assert code(line) == ["argocd_resource"]  # the tool name is the only code span
    rendered = text(line)
    assert "name_with_*stars* and `ticks` [link](http://x)" in rendered and "# heading" in rendered
    odd = activity.looking_up(ToolCall("c2", 'x"&<y>', {}, 1))
    assert code(odd) == [] and 'x"&<y>' in text(odd)


def test_a_failed_call_shows_the_tools_message_and_a_successful_one_nothing():
    output = json.dumps({"error": "out_of_scope", "message": 'Pod "billing-api" & co are outside the Application'})
    failed = ToolResult("c1", "argocd_resource_events", {}, output, True, 1)
    line = activity.line_for(failed)
    assert line is not None and line.startswith("\n_`argocd_resource_events` failed: Pod")
    assert code(line) == ["argocd_resource_events"] and '"billing-api" & co' in text(line)
    assert activity.line_for(ToolResult("c2", "argocd_application", {}, "{}", False, 1)) is None
    long = activity.failed(ToolResult("c3", "t", {}, "x" * 5000, True, 1))
    assert len(long) < activity.MAX_MESSAGE_CHARS + 40


# -- the diagnosis block ---------------------------------------------------------------------------------------------


def test_the_block_lists_each_finding_with_its_evidence_as_plain_text():
    block = diagnosis.render([finding([PROBE, "restartCount: 7", MARKUP])])
    assert block.startswith(diagnosis.HEADING + "\n\n- ") and block.endswith("\n\n")
    assert not [c for c in code(block) if ESCAPED & set(c)] and code(block) == []
    rendered = text(block)
    assert PROBE in rendered and "restartCount: 7" in rendered and MARKUP in rendered
    assert "Readiness probe failing" in rendered and "Pod shop/web-1" in rendered and "warning" in rendered


def test_evidence_from_the_cluster_cannot_make_images_links_or_structure():
    planted = "![x](http://evil.example/p.png?d=1) [click](http://evil.example) <img src=x> | a | b |"
    block = diagnosis.render([finding([planted, "# not a heading", "---", "* not a list"])])
    kinds = {t.type for t in tokens(block)}
    assert not kinds & {"image", "link_open", "html_inline", "html_block", "heading_open", "hr", "table_open"}
    assert planted in text(block)


def test_no_block_without_findings_and_a_bounded_one_with_many():
    assert diagnosis.render([]) == ""
    many = [finding([f"evidence {i}-{j}" for j in range(9)], title=f"finding {i}") for i in range(8)]
    block = diagnosis.render(many)
    assert block.count("\n- ") == diagnosis.MAX_FINDINGS + 1 and "(3 more findings went to the model)" in block
    assert "evidence 0-3" in block and "evidence 0-4" not in block


def test_evidence_the_detail_already_says_is_not_repeated():
    block = diagnosis.render([finding(["0/2 available", "ReplicaFailure"], detail="0/2 available")])
    assert block.count("0/2 available") == 1 and "ReplicaFailure" in block


@pytest.mark.parametrize(("model", "overrides", "wanted"), [
    ("embedded/smollm2", None, True),  # the embedded model, on by default
    ("argocd-embedded/smollm2-135m-instruct", {}, True),
    ("openai/gpt-4o", None, False),
    ("embedded/smollm2", {"embedded/smollm2": False}, False),  # an operator turns it off
    ("ollama/qwen2.5:0.5b", {r"qwen2\.5:0\.5b": True}, True),  # or on, by regex
    ("ollama/qwen2.5:7b", {r"qwen2\.5:0\.5b": True}, False),
    (None, None, False),
])
def test_which_models_get_the_block(model, overrides, wanted):
    assert diagnosis.wanted(model, overrides) is wanted


def test_over_the_eval_scenarios_the_block_names_the_cause_with_its_evidence():
    """With only what the extension attaches (no reads of our own), measured: the block names the expected finding
    for 83% of the 80 scenarios and quotes at least one decisive evidence string for 80%; median 137 tokens.
    The rest need related objects (Services, NetworkPolicies, Ingresses, claims) the attachments do not carry."""
    from llama_stack_argocd.agent.attachments import Attachment, AttachmentKind
    from llama_stack_argocd.agent.composer import ContextComposer
    from llama_stack_argocd.cli import eval as ev
    from llama_stack_argocd.context.redaction import Redactor
    from llama_stack_argocd.context.tokens import count_tokens

    named = quoted = 0
    sizes, chars = [], []
    scenarios = ev.load_scenarios()
    for s in scenarios:
        attachments = [Attachment(kind=kind, content=content) for kind, content in (
            (AttachmentKind.MANIFEST, s.manifest_json), (AttachmentKind.EVENTS, s.events_json),
            (AttachmentKind.LOGS, s.logs_json(ev.NAIVE_LOG_LINES) if s.log_entries else None)) if content]
        composed = ContextComposer(Redactor).compose(s.question, attachments, set(), None, "embedded/smollm2")
        block = diagnosis.render(composed.findings)
        named += s.expected_finding in [f.code for f in composed.findings[:diagnosis.MAX_FINDINGS]]
        quoted += any(ev.found(block, s.evidence))
        sizes.append(count_tokens(block, "embedded/smollm2"))
        chars.append(len(block))
        assert not code(block), s.name
    assert named / len(scenarios) >= 0.75 and quoted / len(scenarios) >= 0.70
    assert sorted(sizes)[len(sizes) // 2] <= 160  # short: it sits above the model's answer
    assert max(chars) <= diagnosis.MAX_BLOCK_CHARS + 100  # the heading and the "more findings" line besides


def test_evidence_the_title_already_says_is_not_repeated():
    crashing = finding(["CrashLoopBackOff", "restartCount: 7"], title='container "web" in CrashLoopBackOff')
    block = diagnosis.render([crashing])
    assert block.count("CrashLoopBackOff") == 1 and "restartCount: 7" in block
