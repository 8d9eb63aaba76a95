"""The extension's attachment formats are recognised the same way whichever dialect carries them."""

import json

from llama_stack_argocd.agent.attachments import AttachmentKind, classify, split_inline

MANIFEST = json.dumps({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "shop"}})
EVENTS = json.dumps({"apiVersion": "v1", "items": [{"reason": "BackOff", "involvedObject": {"kind": "Pod"}}]})
LOGS = json.dumps([{"result": {"content": "boom", "timeStamp": "2026-01-01T00:00:00Z", "podName": "web-1"}}])


def test_inline_blocks_split_into_question_and_typed_attachments():
    text = f"Why is it failing?\n\n[Attachment:application/json]\n{MANIFEST}\n\n[Attachment:application/json]\n{EVENTS}"
    text += f"\n\n[Attachment:application/json]\n{LOGS}"
    question, attachments = split_inline(text)
    assert question == "Why is it failing?"
    assert [a.kind for a in attachments] == [AttachmentKind.MANIFEST, AttachmentKind.EVENTS, AttachmentKind.LOGS]
    assert attachments[0].content == MANIFEST
    assert attachments[0].label == "Deployment shop/web"


def test_plain_question_has_no_attachments():
    assert split_inline("  hello  ") == ("hello", [])


def test_client_type_labels_win_over_shape():
    assert classify("plain text", "log") is AttachmentKind.LOGS
    assert classify(MANIFEST, "api object") is AttachmentKind.MANIFEST
    assert classify("not json") is AttachmentKind.OTHER
    assert classify(json.dumps({"apiVersion": "v1", "items": []})) is AttachmentKind.EVENTS


def test_fingerprint_changes_with_content():
    _, [a] = split_inline(f"q\n\n[Attachment:application/json]\n{MANIFEST}")
    _, [b] = split_inline(f"q\n\n[Attachment:application/json]\n{MANIFEST.replace('web', 'api')}")
    _, [c] = split_inline(f"other question\n\n[Attachment:application/json]\n{MANIFEST}")
    assert a.fingerprint != b.fingerprint
    assert a.fingerprint == c.fingerprint
