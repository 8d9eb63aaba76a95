"""The user message the agent builds: attachments once per conversation, fitted beside history and instructions."""

import json

from llama_stack_argocd.agent.attachments import Attachment, AttachmentKind
from llama_stack_argocd.agent.composer import ContextComposer
from llama_stack_argocd.context.redaction import Redactor
from llama_stack_argocd.context.tokens import count_tokens

WORDS = "alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike november oscar papa".split()
LINES = [f"{WORDS[i % 16]} {WORDS[i // 16 % 16]} {WORDS[i // 256 % 16]} handled by {WORDS[i * 7 % 16]}"
         for i in range(1500)]  # distinct lines: nothing collapses
LOG = json.dumps([{"result": {"content": f"INFO {line}", "podName": "w"}} for line in LINES]
                 + [{"result": {"content": "FATAL: out of disk space on /data", "podName": "w"}}])


def composer() -> ContextComposer:
    return ContextComposer(lambda: Redactor(), default_context_window=8192)


def test_long_history_leaves_less_room_for_attachments_but_keeps_the_evidence():
    logs = Attachment(kind=AttachmentKind.LOGS, content=LOG)
    fresh = composer().compose("Why?", [logs], seen=set(), focus=None, model="x", history_tokens=0)
    crowded = composer().compose("Why?", [logs], seen=set(), focus=None, model="x", history_tokens=5000)
    assert count_tokens(crowded.text) < count_tokens(fresh.text)
    assert "out of disk space" in crowded.text and crowded.truncated
    budget = composer().budget("x")
    assert ContextComposer.allocation(budget, "", 5000).history_over
    assert not ContextComposer.allocation(budget, "", 0).history_over


def test_seen_attachments_are_named_not_repeated_and_secrets_counted():
    manifest = Attachment(kind=AttachmentKind.MANIFEST, content=json.dumps({
        "kind": "Deployment", "metadata": {"name": "web", "namespace": "shop"},
        "spec": {"template": {"spec": {"containers": [{"env": [{"name": "DB_PASSWORD", "value": "pw-123"}]}]}}}}))
    first = composer().compose("Why?", [manifest], seen=set(), focus=None)
    assert "pw-123" not in first.text and first.redactions == 1 and first.sent == 1
    again = composer().compose("And now?", [manifest], seen=first.fingerprints, focus=None)
    assert again.sent == 0 and again.deduplicated == 1
    assert "Deployment shop/web" in again.text and "DB_PASSWORD" not in again.text
