"""Token counting that works offline: which tokenizer a model gets, and how many tokens a text costs.

The tokenizer we ship
    The default model (SmolLM2, served in-process) is a byte-level BPE. Its merge list is read from the model's own
    GGUF file by `tools/build_tokenizer_data.py` and committed as `data/smollm2.tiktoken.gz` (tiktoken's rank format,
    362 KB). tiktoken (already installed by llama-stack) runs the BPE in Rust, so counting a 10,000-line log takes
    milliseconds, and nothing is downloaded at run time: `tiktoken.get_encoding()` would fetch its encodings from the
    internet on first use, so it is never called here. The pre-tokenizer below reproduces SmolLM2's ("smollm":
    every digit alone, then the GPT-2 split); counts were checked equal to llama.cpp's own on mixed JSON, logs,
    Markdown and non-ASCII samples.

The documented approximation
    For any other model we do not have its tokenizer offline, so the count is the SmolLM2 count times a factor for
    the model's family (`Tokenizer.exact` is False then):
      * 1.0 for families whose vocabularies are as large or larger (Llama 3, GPT-4o/4.1/5, Qwen, Gemma, Granite,
        DeepSeek, Phi-3.5+): larger vocabularies need fewer tokens for the same text, so this over-counts a little,
        which is the safe side for a budget;
      * 1.25 for the 32k SentencePiece families (Llama 2, Mistral/Mixtral v0.1, CodeLlama, Vicuna), which split
        JSON, identifiers and numbers into more pieces;
      * 1.1 for a model we do not recognise.
    If even the shipped data were missing, `len(text) / 3` is used (about 3 characters a token on JSON and logs).

A deployment that has an exact tokenizer for its model can plug it in with `register_tokenizer`.
"""

from __future__ import annotations

import base64
import gzip
import math
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

# SmolLM2's pre-tokenizer: each digit alone, then the GPT-2 split. A run of spaces before a digit stays whole because
# the reference splits at digits first and applies the GPT-2 rule to what is between them.
_SMOLLM2_SPLIT = r"""\p{N}|'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?[^\s\p{L}\p{N}]+|\s+(?=\p{N})|\s+(?!\S)|\s+"""
_DATA = "smollm2.tiktoken.gz"
CHARS_PER_TOKEN = 3.0


@dataclass(frozen=True)
class Tokenizer:
    """Counts tokens for one model family. `exact` is False when the count is the documented approximation."""

    name: str
    exact: bool
    counter: Callable[[str], int] = field(repr=False, compare=False)
    factor: float = 1.0

    def count(self, text: str) -> int:
        if not text:
            return 0
        n = self.counter(text)
        return n if self.factor == 1.0 else math.ceil(n * self.factor)


@lru_cache(maxsize=1)
def _smollm2_encoding() -> Any:  # tiktoken.Encoding | None, tiktoken imported lazily
    try:
        import tiktoken

        raw = resources.files("llama_stack_argocd.context").joinpath("data", _DATA).read_bytes()
    except (ImportError, FileNotFoundError, OSError):
        return None
    ranks: dict[bytes, int] = {}
    for line in gzip.decompress(raw).splitlines():
        token, rank = line.split()
        ranks[base64.b64decode(token)] = int(rank)
    return tiktoken.Encoding("smollm2", pat_str=_SMOLLM2_SPLIT, mergeable_ranks=ranks, special_tokens={})


def _approx_chars(text: str) -> int:
    return math.ceil(len(text) / CHARS_PER_TOKEN)


def _smollm2_count(text: str) -> int:
    enc = _smollm2_encoding()
    if enc is None:
        return _approx_chars(text)
    return len(enc.encode_ordinary(text))


def shipped_tokenizer_available() -> bool:
    return _smollm2_encoding() is not None


def _family(name: str, factor: float) -> Tokenizer:
    if not shipped_tokenizer_available():
        return Tokenizer(f"approx:chars/{CHARS_PER_TOKEN:g}", exact=False, counter=_approx_chars, factor=1.0)
    return Tokenizer(name, exact=False, counter=_smollm2_count, factor=factor)


def _smollm2() -> Tokenizer:
    if not shipped_tokenizer_available():
        return _family("smollm2", 1.0)
    return Tokenizer("smollm2", exact=True, counter=_smollm2_count)


# (pattern over the lower-cased model id, tokenizer factory); the first match wins. Model ids look like
# "openai/gpt-4o", "ollama/llama3.2:3b", "argocd-embedded/smollm2-135m-instruct".
_RULES: list[tuple[re.Pattern[str], Callable[[], Tokenizer]]] = [
    (re.compile(r"smollm|argocd-embedded"), _smollm2),
    # Mistral's newer models use a 131k vocabulary (Tekken); the older ones share the 32k SentencePiece one
    (re.compile(r"nemo|mistral-(large|small-3|medium)|ministral|pixtral|codestral|magistral|devstral"),
     lambda: _family("approx:smollm2", 1.0)),
    (re.compile(r"llama-?2\b|codellama|vicuna|mistral|mixtral"), lambda: _family("approx:smollm2x1.25", 1.25)),
    (re.compile(r"gpt-?[345]|chatgpt|(^|/)o[134]\b|llama|qwen|gemma|gemini|granite|deepseek|phi-?[34]|claude|command"),
     lambda: _family("approx:smollm2", 1.0)),
]
_UNKNOWN_FACTOR = 1.1
_custom: list[tuple[re.Pattern[str], Tokenizer]] = []
_lock = threading.Lock()


def register_tokenizer(pattern: str, tokenizer: Tokenizer) -> None:
    """Use `tokenizer` for model ids matching `pattern` (a regex, case-insensitive); checked before the built-ins."""
    with _lock:
        _custom.insert(0, (re.compile(pattern, re.IGNORECASE), tokenizer))
    tokenizer_for.cache_clear()


@lru_cache(maxsize=256)
def tokenizer_for(model: str | None = None) -> Tokenizer:
    """The tokenizer for a model id; no model means the embedded default (SmolLM2)."""
    if not model:
        return _smollm2()
    for pattern, tok in _custom:
        if pattern.search(model):
            return tok
    lowered = model.lower()
    for pattern, make in _RULES:
        if pattern.search(lowered):
            return make()
    return _family(f"approx:smollm2x{_UNKNOWN_FACTOR:g}", _UNKNOWN_FACTOR)


def count_tokens(text: str, model: str | None = None) -> int:
    """Tokens `text` costs for `model` (exact for the embedded model, the documented approximation otherwise)."""
    return tokenizer_for(model).count(text)


def truncate_to_tokens(text: str, max_tokens: int, model: str | None = None) -> str:
    """The longest prefix of `text` (cut at a line, else a word, else a character) that fits `max_tokens`."""
    if max_tokens <= 0:
        return ""
    tok = tokenizer_for(model)
    if tok.count(text) <= max_tokens:
        return text
    enc = _smollm2_encoding() if tok.counter is _smollm2_count else None
    if enc is not None:
        # one encode: the first N tokens (N scaled by the family factor), decoded back to text
        ids = enc.encode_ordinary(text)
        cut: str = enc.decode(ids[: int(max_tokens / tok.factor)], errors="ignore")
        while cut and tok.count(cut) > max_tokens:
            cut = cut[: int(len(cut) * 0.98)]
    else:
        # binary search on the character length; each probe is one count
        lo, hi = 0, len(text)
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if tok.count(text[:mid]) <= max_tokens:
                lo = mid
            else:
                hi = mid - 1
        cut = text[:lo]
    for sep in ("\n", " "):
        at = cut.rfind(sep)
        if at > len(cut) // 2:
            return cut[:at]
    return cut
