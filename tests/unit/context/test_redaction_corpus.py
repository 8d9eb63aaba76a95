"""The planted-secret corpus through the redactor as the tools and the agent apply it: 0 leaks, <= 5% false positives."""

from __future__ import annotations

import json

from llama_stack_argocd.context.redaction import Redactor
from tests.support import secrets_corpus


def redacted_corpus_text() -> str:
    corpus = secrets_corpus.load()
    redactor = Redactor()
    parts = [json.dumps(redactor.redact_obj(obj)) for *_, obj in secrets_corpus.lab_objects(corpus)]
    parts += [redactor.redact_text(text) for text in (secrets_corpus.log_text(corpus), secrets_corpus.question(corpus),
                                                       secrets_corpus.attachment(corpus))]
    return "\n".join(parts)


def test_the_corpus_is_big_and_varied_enough():
    corpus = secrets_corpus.load()
    assert len(corpus.planted) >= 150 and len(corpus.forms) >= 30 and corpus.harmless_count >= 40
    assert len({p.secret for p in corpus.planted}) == len(corpus.planted)  # every secret planted once


def test_no_planted_secret_survives_redaction():
    leaked = secrets_corpus.load().leaks(redacted_corpus_text())
    assert [(p.form, p.item) for p in leaked] == []


def test_harmless_look_alikes_survive():
    corpus = secrets_corpus.load()
    lost = corpus.lost_harmless(redacted_corpus_text())
    assert len(lost) <= 0.05 * corpus.harmless_count, lost
