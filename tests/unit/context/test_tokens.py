"""Token counts come from the default model's own tokenizer, offline; other models get the documented approximation."""

from __future__ import annotations

import socket

import pytest

from llama_stack_argocd.context import tokens
from llama_stack_argocd.context.tokens import (
    Tokenizer,
    count_tokens,
    register_tokenizer,
    tokenizer_for,
    truncate_to_tokens,
)

# Counts llama.cpp itself reported for the embedded SmolLM2 GGUF (prompt_tokens of a completion request).
REFERENCE = [
    ("hello world", 2),
    ('{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"guestbook-ui","namespace":"default",'
     '"resourceVersion":"123456"}}', 40),
    ('2024-05-01T12:00:03.123Z ERROR [main] o.h.e.j.s.SqlExceptionHelper - FATAL: password authentication failed '
     'for user "app"', 57),
    ("  at org.springframework.boot.SpringApplication.run(SpringApplication.java:1306)\n\tat com.example.App.main"
     "(App.java:12)", 42),
    ("panic: runtime error: invalid memory address or nil pointer dereference\n[signal SIGSEGV: segmentation "
     "violation code=0x1 addr=0x0 pc=0x4a3b2c]\n\ngoroutine 1 [running]:", 55),
    ("Back-off restarting failed container api in pod api-7d9f8c6b5-x2kqz_default(6f1c...)   12345  9999.5   ", 49),
    ("Ünïcödé — 日本語 テスト 🚀 ok's we'll I'M", 33),
]


@pytest.mark.parametrize(("text", "expected"), REFERENCE)
def test_counts_match_the_embedded_models_tokenizer(text, expected):
    assert count_tokens(text) == expected


def test_default_model_is_exact_and_others_are_marked_approximate():
    assert tokenizer_for(None).exact
    assert tokenizer_for(None).name == "smollm2"
    assert tokenizer_for("argocd-embedded/smollm2-135m-instruct").exact
    gpt = tokenizer_for("openai/gpt-4o")
    assert not gpt.exact and gpt.factor == 1.0
    assert tokenizer_for("ollama/llama2:7b").factor == 1.25
    assert tokenizer_for("mistral-7b-instruct-v0.2").factor == 1.25
    assert tokenizer_for("mistral-nemo").factor == 1.0
    assert tokenizer_for("acme/unknown-model").factor == 1.1


def test_approximation_scales_the_shipped_count():
    text = '{"kind":"Pod","metadata":{"name":"web-1"}} ' * 20
    base = count_tokens(text)
    assert count_tokens(text, "ollama/llama2") == -(-base * 125 // 100)
    assert count_tokens(text, "who/knows") >= base


def test_empty_text_costs_nothing():
    assert count_tokens("") == 0
    assert count_tokens("", "openai/gpt-4o") == 0


def test_works_with_the_network_unavailable(monkeypatch):
    def refuse(*args, **kwargs):
        raise OSError("network disabled in this test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    tokens._smollm2_encoding.cache_clear()
    tokenizer_for.cache_clear()
    try:
        assert tokens.shipped_tokenizer_available()
        assert count_tokens("hello world") == 2
    finally:
        tokens._smollm2_encoding.cache_clear()
        tokenizer_for.cache_clear()


def test_falls_back_to_characters_when_the_data_is_missing(monkeypatch):
    monkeypatch.setattr(tokens, "_DATA", "does-not-exist.gz")
    tokens._smollm2_encoding.cache_clear()
    tokenizer_for.cache_clear()
    try:
        tok = tokenizer_for(None)
        assert not tok.exact and tok.name.startswith("approx:chars")
        assert count_tokens("x" * 30) == 10
    finally:
        tokens._smollm2_encoding.cache_clear()
        tokenizer_for.cache_clear()


def test_a_deployment_can_plug_its_own_tokenizer():
    register_tokenizer(r"^house/", Tokenizer("words", exact=True, counter=lambda t: len(t.split())))
    try:
        assert count_tokens("one two three", "house/model-a") == 3
        assert tokenizer_for("house/model-a").name == "words"
        assert tokenizer_for(None).name == "smollm2"
    finally:
        tokens._custom.clear()
        tokenizer_for.cache_clear()


@pytest.mark.parametrize("model", [None, "openai/gpt-4o", "ollama/llama2"])
def test_truncate_keeps_a_prefix_within_the_limit(model):
    text = "\n".join(f"line {i}: the quick brown fox jumps over the lazy dog" for i in range(400))
    for limit in (1, 10, 100, 1000):
        cut = truncate_to_tokens(text, limit, model)
        assert count_tokens(cut, model) <= limit
        assert text.startswith(cut)
    assert truncate_to_tokens("short", 100, model) == "short"
    assert truncate_to_tokens("anything", 0, model) == ""
    cut = truncate_to_tokens(text, 100, model)
    assert cut.endswith("dog")  # cut at a line end


def test_counting_a_large_log_is_fast():
    import time

    text = "2024-05-01T12:00:03.123Z INFO request handled path=/healthz status=200 duration=3ms\n" * 10_000
    started = time.perf_counter()
    assert count_tokens(text) > 100_000
    assert time.perf_counter() - started < 2.0
