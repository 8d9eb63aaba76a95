"""How many tokens a request may put before the model, and how they are shared.

A `Budget` starts from the model's context window (configurable per model, 8192 when the model is unknown), keeps an
answer reserve, and shares the rest between four roles: instructions, history, attachments and tool results. Sharing is
weighted max-min fair: a role that needs less than its share gives the rest to the others, and a role never gets more
than its cap (a 1M-token window does not mean a 1M-token prompt: more context is slower and no better).

`Budget.fit(sections)` cuts what does not fit and says so in the text: `[... 1,234 lines omitted ...]`, and
`FittedContext.truncated` is what the routes report (Lightspeed's `truncated`, metadata elsewhere).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

from .tokens import count_tokens

DEFAULT_CONTEXT_WINDOW = 8192

INSTRUCTIONS = "instructions"
HISTORY = "history"
ATTACHMENTS = "attachments"
TOOL_RESULTS = "tool_results"
ROLES = (INSTRUCTIONS, HISTORY, ATTACHMENTS, TOOL_RESULTS)

DEFAULT_SHARES: Mapping[str, float] = MappingProxyType(
    {INSTRUCTIONS: 0.15, HISTORY: 0.25, ATTACHMENTS: 0.35, TOOL_RESULTS: 0.25}
)
DEFAULT_CAPS: Mapping[str, int] = MappingProxyType(
    {INSTRUCTIONS: 4096, HISTORY: 16384, ATTACHMENTS: 16384, TOOL_RESULTS: 16384}
)

# Context windows of model families we know (pattern over the lower-cased model id, tokens); the first match wins.
KNOWN_CONTEXT_WINDOWS: tuple[tuple[str, int], ...] = (
    (r"smollm|argocd-embedded", 8192),
    (r"gpt-4\.1", 1_047_576),
    (r"gpt-5", 400_000),
    (r"gpt-4o|gpt-4-turbo|chatgpt", 128_000),
    (r"gpt-4", 8192),
    (r"gpt-3\.5", 16_385),
    (r"(^|/)o[134]\b|(^|/)o[134]-", 200_000),
    (r"claude", 200_000),
    (r"gemini", 1_048_576),
    (r"llama-?3\.[1-9]|llama3\.[1-9]|llama-?4", 131_072),
    (r"llama-?3|llama3", 8192),
    (r"llama-?2\b|codellama", 4096),
    (r"qwen-?2\.5|qwen-?3|qwq", 32_768),
    (r"mistral-nemo|mistral-(large|small|medium)|ministral|pixtral|codestral", 131_072),
    (r"mistral|mixtral", 32_768),
    (r"gemma-?3", 131_072),
    (r"gemma", 8192),
    (r"granite-?3\.[1-9]|granite-?4", 131_072),
    (r"granite", 8192),
    (r"deepseek", 65_536),
    (r"phi-?3\.5|phi-?4", 16_384),
    (r"phi-?3", 4096),
)


def context_window_for(
    model: str | None, overrides: Mapping[str, int] | None = None, default: int = DEFAULT_CONTEXT_WINDOW
) -> int:
    """The context window of `model`: an exact id (or regex) in `overrides` first, then the known families."""
    return int(model_setting(model, overrides, KNOWN_CONTEXT_WINDOWS, default))


def model_setting[T](
    model: str | None, overrides: Mapping[str, T] | None, known: Iterable[tuple[str, T]], default: T
) -> T:
    """A per-model setting: an exact id in `overrides`, then a regex there, then the first known pattern."""
    if not model:
        return default
    lowered = model.lower()
    for key, value in (overrides or {}).items():
        if key.lower() == lowered:
            return value
    for key, value in (overrides or {}).items():
        try:
            if re.search(key, model, re.IGNORECASE):
                return value
        except re.error:
            continue
    for pattern, value in known:
        if re.search(pattern, lowered):
            return value
    return default


def fair_allocate(
    total: int, demands: Mapping[str, int], weights: Mapping[str, float] | None = None,
    caps: Mapping[str, int] | None = None,
) -> dict[str, int]:
    """Weighted max-min fair split of `total` tokens: nobody gets more than it asks (or its cap), the rest is shared."""
    want = {k: max(0, min(int(d), (caps or {}).get(k, int(d)))) for k, d in demands.items()}
    alloc = dict.fromkeys(demands, 0)
    active = [k for k, d in want.items() if d > 0]
    remaining = max(0, int(total))
    while active and remaining > 0:
        weight_sum = sum((weights or {}).get(k, 1.0) for k in active) or 1.0
        offers = {k: remaining * (weights or {}).get(k, 1.0) / weight_sum for k in active}
        satisfied = [k for k in active if want[k] - alloc[k] <= offers[k]]
        if not satisfied:
            for k in active:
                alloc[k] += int(offers[k])
            break
        for k in satisfied:
            remaining -= want[k] - alloc[k]
            alloc[k] = want[k]
            active.remove(k)
    return alloc


# -- cutting text with explicit markers ---------------------------------------------------------------------------


def omission_marker(count: int, unit: str = "lines") -> str:
    return f"[... {count:,} {unit} omitted ...]"


@dataclass(frozen=True)
class Cut:
    text: str
    tokens: int
    truncated: bool
    omitted_lines: int = 0


def cut_text(text: str, max_tokens: int, keep: Literal["head", "tail"] = "head", model: str | None = None) -> Cut:
    """Keep whole lines from the head (or the tail) of `text` within `max_tokens`, with a marker for what was cut.

    A single line longer than the budget is cut inside the line (`[... N characters omitted ...]`): a manifest sent as
    one line of JSON is still cut visibly. A budget too small for even the marker gives an empty text, truncated.
    """
    total = count_tokens(text, model)
    if total <= max_tokens:
        return Cut(text, total, False)
    lines = text.split("\n")
    marker_cost = count_tokens(omission_marker(10 ** 6), model) + 1
    room = max_tokens - marker_cost
    if room <= 0:
        return Cut("", 0, True, len(lines))
    ordered = lines if keep == "head" else lines[::-1]
    kept: list[str] = []
    used = 0
    for line in ordered:
        cost = count_tokens(line + "\n", model)
        if used + cost > room:
            break
        kept.append(line)
        used += cost
    omitted = len(lines) - len(kept)
    if not kept:
        # not even one whole line: cut inside the first (or last) line
        line = ordered[0]
        part = _cut_chars(line, room - count_tokens(omission_marker(10 ** 7, "characters"), model), keep, model)
        marker = omission_marker(len(line) - len(part), "characters")
        body = f"{part} {marker}" if keep == "head" else f"{marker} {part}"
        if omitted > 1:
            extra = omission_marker(omitted - 1)
            body = f"{body}\n{extra}" if keep == "head" else f"{extra}\n{body}"
        return _shrink_to(Cut(body, count_tokens(body, model), True, omitted - 1), max_tokens, model)
    kept_text = "\n".join(kept if keep == "head" else kept[::-1])
    marker = omission_marker(omitted)
    body = f"{kept_text}\n{marker}" if keep == "head" else f"{marker}\n{kept_text}"
    return _shrink_to(Cut(body, count_tokens(body, model), True, omitted), max_tokens, model)


def _cut_chars(line: str, max_tokens: int, keep: str, model: str | None) -> str:
    if max_tokens <= 0:
        return ""
    lo, hi = 0, len(line)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        piece = line[:mid] if keep == "head" else line[len(line) - mid:]
        if count_tokens(piece, model) <= max_tokens:
            lo = mid
        else:
            hi = mid - 1
    return line[:lo] if keep == "head" else line[len(line) - lo:]


def _shrink_to(cut: Cut, max_tokens: int, model: str | None) -> Cut:
    """Per-line counts can differ by a token or two from the joined text's: drop lines until it really fits."""
    text, tokens, omitted = cut.text, cut.tokens, cut.omitted_lines
    while tokens > max_tokens:
        lines = text.split("\n")
        marker_first = lines[0].startswith("[... ")
        body = lines[1:] if marker_first else lines[:-1]
        if len(body) <= 1:
            return Cut("", 0, True, omitted + len(body))
        body = body[1:] if marker_first else body[:-1]
        omitted += 1
        marker = omission_marker(omitted)
        text = "\n".join([marker, *body] if marker_first else [*body, marker])
        tokens = count_tokens(text, model)
    return Cut(text, tokens, cut.truncated, omitted)


# -- sections and the fitted result ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Section:
    """A piece of the request. `keep` is the end that survives a cut (history keeps its tail: the recent turns).

    Within a role, sections with a higher `priority` are served first; equal priorities share fairly.
    """

    role: str
    text: str
    title: str = ""
    keep: Literal["head", "tail"] = "head"
    priority: int = 0


@dataclass(frozen=True)
class FittedSection:
    role: str
    title: str
    text: str
    tokens: int
    original_tokens: int
    truncated: bool
    omitted_lines: int = 0


@dataclass(frozen=True)
class FittedContext:
    sections: tuple[FittedSection, ...]
    tokens: int
    budget_tokens: int
    allocation: Mapping[str, int] = field(default_factory=dict)

    @property
    def truncated(self) -> bool:
        return any(s.truncated for s in self.sections)

    @property
    def text(self) -> str:
        return "\n\n".join(s.text for s in self.sections if s.text)

    def role(self, role: str) -> list[FittedSection]:
        return [s for s in self.sections if s.role == role]

    def tokens_by_role(self) -> dict[str, int]:
        out = dict.fromkeys(ROLES, 0)
        for s in self.sections:
            out[s.role] = out.get(s.role, 0) + s.tokens
        return out


@dataclass(frozen=True)
class Budget:
    """A token budget for one request. `Budget.for_model("openai/gpt-4o")` or `Budget(context_window=4096)`."""

    context_window: int = DEFAULT_CONTEXT_WINDOW
    model: str | None = None
    answer_reserve: int | None = None
    shares: Mapping[str, float] = DEFAULT_SHARES
    caps: Mapping[str, int] = DEFAULT_CAPS
    section_overhead: int = 4  # role/turn markers a chat template adds around each piece

    @classmethod
    def for_model(
        cls, model: str | None, windows: Mapping[str, int] | None = None, default_window: int = DEFAULT_CONTEXT_WINDOW,
        **kwargs: Any,
    ) -> Budget:
        return cls(context_window=context_window_for(model, windows, default_window), model=model, **kwargs)

    @property
    def reserve(self) -> int:
        """Tokens kept free for the answer: a quarter of the window, at least 256 and at most 4096, unless set."""
        if self.answer_reserve is not None:
            return max(0, self.answer_reserve)
        return max(256, min(4096, self.context_window // 4))

    @property
    def input_tokens(self) -> int:
        return max(0, self.context_window - self.reserve)

    def share(self, role: str) -> int:
        """The tokens `role` is guaranteed whatever the others ask for."""
        weight_sum = sum(self.shares.values()) or 1.0
        fair = math.floor(self.input_tokens * self.shares.get(role, 0.0) / weight_sum)
        return min(fair, self.caps.get(role, fair))

    def allocate(self, demands: Mapping[str, int]) -> dict[str, int]:
        """Tokens per role for these demands: fair shares, with what one role leaves over going to the others."""
        return fair_allocate(self.input_tokens, demands, self.shares, self.caps)

    def count(self, text: str) -> int:
        return count_tokens(text, self.model)

    def fit(self, sections: Sequence[Section] | Iterable[Section]) -> FittedContext:
        sections = list(sections)
        sizes = [self.count(s.text) for s in sections]
        overhead = [self.section_overhead if s.text else 0 for s in sections]
        demands: dict[str, int] = {}
        for s, size, extra in zip(sections, sizes, overhead, strict=True):
            demands[s.role] = demands.get(s.role, 0) + size + extra
        per_role = self.allocate(demands)

        granted: dict[int, int] = {}
        for role, role_tokens in per_role.items():
            members = [i for i, s in enumerate(sections) if s.role == role]
            left = role_tokens
            for prio in sorted({sections[i].priority for i in members}, reverse=True):
                tier = [i for i in members if sections[i].priority == prio]
                got = fair_allocate(left, {str(i): sizes[i] + overhead[i] for i in tier})
                for i in tier:
                    granted[i] = got[str(i)]
                    left -= got[str(i)]

        fitted = []
        for i, s in enumerate(sections):
            room = max(0, granted.get(i, 0) - overhead[i])
            cut = cut_text(s.text, room, s.keep, self.model) if sizes[i] > room else Cut(s.text, sizes[i], False)
            fitted.append(FittedSection(s.role, s.title, cut.text, cut.tokens, sizes[i], cut.truncated,
                                        cut.omitted_lines))
        total = sum(f.tokens + (self.section_overhead if f.text else 0) for f in fitted)
        return FittedContext(tuple(fitted), total, self.input_tokens, per_role)
