"""The context evaluation: does the context we build keep the evidence, and at what size?

    python -m llama_stack_argocd.cli.eval                 # the table (make eval)
    python -m llama_stack_argocd.cli.eval --show crashloop-db-auth --budget 2000   # print one context
    python -m llama_stack_argocd.cli.eval --model-url http://127.0.0.1:8080/v1 --model NAME   # ask a real model

Each scenario under evals/scenarios/<name>/ has a scenario.yaml (manifest, events, related objects, logs: a file or a
deterministic generator), the `evidence` strings a correct diagnosis needs (an item may list alternatives: the prose
and the JSON spelling of one fact) and the `expected_finding` code.

Two contexts are compared at budgets of 1k, 2k, 4k and 8k tokens:
  * ours: `build_context()` over the manifest, events, related objects and the full log (the back-end's tools read the
    logs themselves; they are not limited to what the browser attached);
  * naive: what the extension attaches (`JSON.stringify` of the manifest, `{"apiVersion":"v1","items":[...]}`, and the
    last 250 log lines as its JSON array), cut at the budget.
Evidence recall is the share of evidence strings found (case-insensitive) in the context.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from types import ModuleType
from typing import Any

import yaml

from llama_stack_argocd.context.digest import Digest, build_context
from llama_stack_argocd.context.tokens import count_tokens, tokenizer_for, truncate_to_tokens

REPO = Path(__file__).resolve().parents[2]
DEFAULT_SCENARIOS = REPO / "evals" / "scenarios"
BUDGETS = (1000, 2000, 4000, 8000)
NAIVE_LOG_LINES = 250  # the extension's MAX_LINES


@lru_cache(maxsize=1)
def generator() -> ModuleType:
    path = REPO / "evals" / "generate.py"
    spec = importlib.util.spec_from_file_location("llama_stack_argocd_eval_generate", path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


# -- scenarios -------------------------------------------------------------------------------------------------------


@dataclass
class Scenario:
    name: str
    description: str
    manifest: dict[str, Any] | None
    events: list[dict[str, Any]]
    related: list[dict[str, Any]]
    log_entries: list[dict[str, Any]]
    evidence: list[list[str]]  # each item: alternatives, any of which counts ("exit code 1" or "exitCode: 1")
    expected_finding: str
    question: str = "What is wrong with this resource and how do I fix it?"
    previous_log_entries: list[dict[str, Any]] = field(default_factory=list)  # the crashed container's run
    _logs_json: dict[int, str] = field(default_factory=dict, repr=False)

    @property
    def manifest_json(self) -> str | None:
        return json.dumps(self.manifest, separators=(",", ":")) if self.manifest else None

    @property
    def events_json(self) -> str | None:
        if not self.events:
            return None
        return json.dumps({"apiVersion": "v1", "items": self.events}, separators=(",", ":"))

    def logs_json(self, last: int | None = None) -> str | None:
        """The current container's log (its last `last` lines), or with no `last` all the back-end reads: the
        previous (crashed) instance's log, then the current one."""
        if not self.log_entries and not self.previous_log_entries:
            return None
        key = last or 0
        if key not in self._logs_json:
            entries = self.log_entries[-last:] if last else self.previous_log_entries + self.log_entries
            self._logs_json[key] = json.dumps(entries, separators=(",", ":"))
        return self._logs_json[key]


def _read(path: Path | Any) -> Any:
    """A file next to scenario.yaml (JSON or YAML, one or more documents), or objects written inline."""
    if not isinstance(path, Path):
        return path
    text = path.read_text()
    if path.suffix == ".json":
        return json.loads(text)
    docs = [d for d in yaml.safe_load_all(text) if d is not None]
    return docs[0] if len(docs) == 1 else docs


def _log_entries(directory: Path, logs: Mapping[str, Any], seed: int) -> list[dict[str, Any]]:
    """A committed log file, or a deterministic generator (`generate: {profile, lines, needles, head, tail}`)."""
    gen = generator()
    if logs.get("file"):
        lines = [("", line) for line in (directory / logs["file"]).read_text().splitlines()]
    else:
        g = logs["generate"]
        lines = gen.generate_log(g["profile"], int(g.get("seed", seed)), int(g.get("lines", 1000)),
                                 g.get("needles", []), g.get("tail", []), g.get("head", []),
                                 int(g.get("step_ms", 180)))
    return gen.extension_log_entries(lines, logs.get("pod", ""))


def _as_list(value: Any, files: bool = False) -> list[Any]:
    if value is None:
        return []
    if files and isinstance(value, (str, Mapping)):
        return [value]
    if files and isinstance(value, list):
        return list(value)
    if isinstance(value, Mapping) and isinstance(value.get("items"), list):
        return list(value["items"])
    if isinstance(value, list):
        out: list[dict[str, Any]] = []
        for v in value:
            out.extend(_as_list(v) if isinstance(v, list) else [v])
        return out
    return [value]


def load_scenario(directory: Path) -> Scenario:
    spec = yaml.safe_load((directory / "scenario.yaml").read_text())
    gen = generator()
    seed = int(spec.get("seed", 1))
    namespace = spec.get("namespace", "shop")
    decorate = spec.get("decorate", True)

    def obj(value: Any, i: int) -> dict[str, Any]:
        return gen.decorate(value, seed * 1000 + i) if decorate else value

    def source(value: Any) -> Any:
        return directory / value if isinstance(value, str) else value

    manifest = None
    if spec.get("manifest"):
        manifest = obj(_read(source(spec["manifest"])), 0)
    related = [obj(o, 100 + i) for i, o in enumerate(
        o for f in _as_list(spec.get("related"), files=True) for o in _as_list(_read(source(f))))]
    events = [gen.decorate_event(e, seed * 1000 + 500 + i, namespace)
              for i, e in enumerate(_as_list(_read(source(spec["events"]))) if spec.get("events") else [])]

    entries: list[dict[str, Any]] = []
    previous: list[dict[str, Any]] = []
    logs = spec.get("logs")
    if logs:
        entries = _log_entries(directory, logs, seed)
        if logs.get("previous"):  # the crashed instance: the back-end reads it, the extension does not attach it
            previous = _log_entries(directory, {"pod": logs.get("pod", ""), **logs["previous"]}, seed + 1)
    return Scenario(
        name=directory.name, description=str(spec.get("description", "")).strip(), manifest=manifest,
        events=events, related=related, log_entries=entries, previous_log_entries=previous,
        evidence=[[str(a) for a in e] if isinstance(e, list) else [str(e)] for e in spec["evidence"]],
        expected_finding=str(spec["expected_finding"]),
        question=str(spec.get("question") or Scenario.question),
    )


def load_scenarios(root: Path = DEFAULT_SCENARIOS, only: Sequence[str] = ()) -> list[Scenario]:
    dirs = sorted(p for p in root.iterdir() if (p / "scenario.yaml").is_file())
    if only:
        dirs = [d for d in dirs if any(o in d.name for o in only)]
    return [load_scenario(d) for d in dirs]


# -- contexts and scores -----------------------------------------------------------------------------------------------


def naive_payload(s: Scenario) -> str:
    """The attachments the extension sends, as the Responses provider inlines them."""
    parts = [p for p in (s.manifest_json, s.events_json, s.logs_json(NAIVE_LOG_LINES)) if p]
    return "\n\n".join(f"[Attachment:application/json]\n{p}" for p in parts)


def naive_context(s: Scenario, budget: int, model: str | None = None) -> str:
    return truncate_to_tokens(naive_payload(s), budget, model)


def our_context(s: Scenario, budget: int, model: str | None = None) -> Digest:
    return build_context(manifest=s.manifest_json, events=s.events_json, logs=s.logs_json(),
                         related_objects=s.related, budget=budget, model=model)


def first_prompt(s: Scenario, model: str | None = None) -> tuple[str, int]:
    """What the model reads before any tool call: the user message the agent composes from the question and the
    extension's attachments (redacted, findings first, within the default model's attachment share), and its tokens.

    The attachments are only what the browser sends (last 250 log lines of the current container); what the
    back-end reads itself comes later, by tools.
    """
    from llama_stack_argocd.agent import diagnosis
    from llama_stack_argocd.agent.attachments import Attachment, AttachmentKind
    from llama_stack_argocd.agent.composer import ContextComposer
    from llama_stack_argocd.agent.instructions import system_instructions
    from llama_stack_argocd.agent.planner import merged_findings
    from llama_stack_argocd.context.redaction import Redactor

    attachments = [Attachment(kind=kind, content=content) for kind, content in (
        (AttachmentKind.MANIFEST, s.manifest_json), (AttachmentKind.EVENTS, s.events_json),
        (AttachmentKind.LOGS, s.logs_json(NAIVE_LOG_LINES) if s.log_entries else None)) if content]
    composed = ContextComposer(Redactor).compose(s.question, attachments, set(), None, model,
                                                 system_instructions(None))
    return composed.text, count_tokens(composed.text, model)


_QUOTES = str.maketrans("", "", "\"'`\\")


def _norm(text: str) -> str:
    """Lower case, no quotes or escapes, `key: value` like `"key":"value"`: YAML, JSON and prose compare alike."""
    out = " ".join(text.lower().translate(_QUOTES).split())
    return out.replace(": ", ":").replace(" = ", "=").replace("= ", "=")


def found(text: str, evidence: Sequence[Sequence[str] | str]) -> list[bool]:
    low = _norm(text)
    return [any(_norm(a) in low for a in ([e] if isinstance(e, str) else e)) for e in evidence]


@dataclass
class Cell:
    ours_recall: float
    ours_tokens: int
    naive_recall: float
    naive_tokens: int
    ours_missing: list[str] = field(default_factory=list)
    truncated: bool = False


@dataclass
class Row:
    scenario: Scenario
    log_lines: int
    naive_full_tokens: int
    cells: dict[int, Cell]
    cause_named: bool
    cause_rank: int  # 1-based position of the expected finding, 0 when absent
    findings: list[str]
    first_recall: float = 0.0  # the first prompt (question + the extension's attachments, composed)
    first_tokens: int = 0
    first_missing: list[str] = field(default_factory=list)


def evaluate(scenarios: Sequence[Scenario], budgets: Sequence[int] = BUDGETS, model: str | None = None) -> list[Row]:
    rows = []
    for s in scenarios:
        payload = naive_payload(s)
        cells = {}
        digest = None
        for b in budgets:
            digest = our_context(s, b, model)
            ours = found(digest.text, s.evidence)
            naive_text = naive_context(s, b, model)
            naive = found(naive_text, s.evidence)
            cells[b] = Cell(sum(ours) / len(ours), digest.tokens, sum(naive) / len(naive),
                            count_tokens(naive_text, model),
                            [e[0] for e, ok in zip(s.evidence, ours, strict=True) if not ok], digest.truncated)
        codes = [f.code for f in (digest.findings if digest else [])]
        rank = codes.index(s.expected_finding) + 1 if s.expected_finding in codes else 0
        first_text, first_tokens = first_prompt(s, model)
        first = found(first_text, s.evidence)
        rows.append(Row(s, len(s.log_entries) + len(s.previous_log_entries), count_tokens(payload, model), cells,
                        rank > 0, rank, [f"{f.code}: {f.title}" for f in (digest.findings if digest else [])],
                        sum(first) / len(first), first_tokens,
                        [e[0] for e, ok in zip(s.evidence, first, strict=True) if not ok]))
    return rows


def _k(n: int) -> str:
    return f"{n // 1000}k" if n % 1000 == 0 else str(n)


def format_table(rows: Sequence[Row], budgets: Sequence[int] = BUDGETS) -> str:
    name_w = max([len("scenario")] + [len(r.scenario.name) for r in rows])
    head = f"{'scenario':<{name_w}}  {'log lines':>9}  {'naive full':>10}"
    for b in budgets:
        head += f"  {_k(b) + ' ours/naive (tok)':>22}"
    head += f"  {'first prompt':>16}  cause"
    out = [head, "-" * len(head)]

    def cell(c: Cell) -> str:
        return f"{c.ours_recall * 100:>4.0f}%/{c.naive_recall * 100:>4.0f}% ({c.ours_tokens:>5,})"

    for r in rows:
        line = f"{r.scenario.name:<{name_w}}  {r.log_lines:>9,}  {r.naive_full_tokens:>10,}"
        for b in budgets:
            line += f"  {cell(r.cells[b]):>22}"
        line += f"  {f'{r.first_recall * 100:>4.0f}% ({r.first_tokens:>5,})':>16}"
        line += f"  {'yes #' + str(r.cause_rank) if r.cause_named else 'NO'}"
        out.append(line)
    out.append("-" * len(head))
    n = len(rows) or 1
    line = f"{'overall (mean)':<{name_w}}  {sum(r.log_lines for r in rows) // n:>9,}  " \
           f"{sum(r.naive_full_tokens for r in rows) // n:>10,}"
    for b in budgets:
        c = Cell(sum(r.cells[b].ours_recall for r in rows) / n, sum(r.cells[b].ours_tokens for r in rows) // n,
                 sum(r.cells[b].naive_recall for r in rows) / n, sum(r.cells[b].naive_tokens for r in rows) // n)
        line += f"  {cell(c):>22}"
    first = f"{sum(r.first_recall for r in rows) / n * 100:>4.0f}% ({sum(r.first_tokens for r in rows) // n:>5,})"
    line += f"  {first:>16}"
    named = sum(r.cause_named for r in rows)
    line += f"  {named}/{len(rows)}"
    out.append(line)
    full = [sum(r.cells[b].ours_recall == 1.0 for r in rows) for b in budgets]
    out.append(f"{'scenarios at 100%':<{name_w}}  {'':>9}  {'':>10}" + "".join(
        f"  {f'{o}/{len(rows)} ours, {sum(r.cells[b].naive_recall == 1.0 for r in rows)}/{len(rows)} naive':>22}"
        for b, o in zip(budgets, full, strict=True)))
    return "\n".join(out)


LEGEND = """\
Evidence recall: share of the evidence strings a correct diagnosis needs that are in the context (ours/naive), and
(tok) the tokens our context used. ours = findings + cleaned manifest + grouped events + related objects + the full
log compressed; naive = the extension's raw JSON attachments (manifest, events, last {lines} log lines) cut at the
budget. "naive full" = tokens of the naive payload uncut. first prompt = recall and tokens of the user message the
agent composes from the question and the extension's attachments alone (before any tool call, default 8k-window
model). cause = the expected finding is among ours (#rank).
Tokenizer: {tok}."""


# -- the first prompt with the agent's own reads ---------------------------------------------------------------------

PROACTIVE_MODELS = (None, "openai/gpt-4o")  # the default 8k-window model, and a 128k one


@dataclass
class Proactive:
    """First-prompt recall of one scenario for one model: the extension's attachments alone, the evidence the agent
    reads itself alone (a turn without attachments), and both; `all_*` when every evidence string is there."""

    scenario: str
    model: str | None
    attachments: float
    evidence: float
    both: float
    evidence_tokens: int
    both_tokens: int
    missing: list[str] = field(default_factory=list)  # of the evidence alone
    missing_both: list[str] = field(default_factory=list)  # of the evidence with the attachments
    block: float = 0.0  # the diagnosis block of the turn with the attachments (what a small model's answer holds)
    block_chars: int = 0
    missing_block: list[str] = field(default_factory=list)


def proactive_eval(scenarios: Sequence[Scenario], models: Sequence[str | None] = PROACTIVE_MODELS) -> list[Proactive]:
    """Each scenario seeded as an Argo CD Application on the Kubernetes stand-in (tests/support/scenario_cluster.py,
    in a checkout), and the first user message the agent composes for its question, with no tool call: through the
    agent's own composer and evidence gatherer, the reads over real HTTP."""
    import asyncio

    from llama_stack_argocd.agent import diagnosis
    from llama_stack_argocd.agent.attachments import Attachment, AttachmentKind
    from llama_stack_argocd.agent.composer import ContextComposer
    from llama_stack_argocd.agent.instructions import system_instructions
    from llama_stack_argocd.agent.planner import merged_findings
    from llama_stack_argocd.context.evidence import EvidenceGatherer
    from llama_stack_argocd.context.kube import KubernetesSource
    from llama_stack_argocd.context.redaction import Redactor
    from llama_stack_argocd.context.service import ContextService
    from llama_stack_argocd.context.settings import ContextSettings

    sys.path.insert(0, str(REPO))
    from tests.support import cluster as stand_in
    from tests.support.scenario_cluster import build_all, seeder

    apps = build_all(scenarios)
    composer, instructions = ContextComposer(Redactor), system_instructions(None)

    async def run(kubeconfig: str) -> list[Proactive]:
        settings = ContextSettings(kubeconfig=kubeconfig)
        gatherer = EvidenceGatherer(ContextService(KubernetesSource(settings), settings))
        out = []
        for seeded in apps:
            s, wanted = seeded.scenario, seeded.evidence
            attachments = [Attachment(kind=AttachmentKind(kind), content=content)
                           for kind, content in seeded.attachments(NAIVE_LOG_LINES) if content]
            alone = await gatherer.collect(seeded.app, None, s.question)
            focused = await gatherer.collect(seeded.app, seeded.focus, s.question)
            for model in models:
                budget = composer.budget(model)
                room = composer.allocation(budget, instructions, 0).attachments
                texts = []
                for attached, collected in (([], alone), (attachments, focused)):
                    composed = composer.compose(s.question, attached, set(), None, model, instructions)
                    evidence = composer.add_evidence(composed, gatherer, collected, budget, room, set())
                    texts.append((composed.text, evidence.tokens if evidence else 0))
                block = diagnosis.render(merged_findings(composed.findings, evidence.findings if evidence else (),
                                                         set()))
                plain = composer.compose(s.question, attachments, set(), None, model, instructions).text
                hits = [found(t, wanted) for t in (plain, texts[0][0], texts[1][0], block)]

                def missed(h: list[bool]) -> list[str]:
                    return [e[0] for e, ok in zip(wanted, h, strict=True) if not ok]

                out.append(Proactive(s.name, model, *(sum(h) / len(h) for h in hits[:3]), texts[0][1],
                                     count_tokens(texts[1][0], model), missed(hits[1]), missed(hits[2]),
                                     sum(hits[3]) / len(hits[3]), len(block), missed(hits[3])))
        return out

    with stand_in.start_cluster(seeder(apps), keep_requests=False) as handle:
        return asyncio.run(run(handle.kubeconfig_path))


def format_proactive(results: Sequence[Proactive]) -> str:
    """Per model: the share of scenarios whose decisive evidence (every evidence string) is in the first prompt."""
    lines = ["first prompt, no tool call: scenarios with all their decisive evidence (mean recall)"]
    for model in dict.fromkeys(r.model for r in results):
        rows = [r for r in results if r.model == model]
        n = len(rows) or 1

        def share(values: list[float]) -> str:
            return f"{sum(v == 1.0 for v in values)}/{len(values)} ({sum(values) / n * 100:.0f}%)"

        lines.append(f"  {model or 'default 8k-window model':24} attachments alone {share([r.attachments for r in rows])}"
                     f", agent's evidence alone {share([r.evidence for r in rows])}"
                     f", both {share([r.both for r in rows])}; evidence tokens "
                     f"{sum(r.evidence_tokens for r in rows) // n} (mean)")
        lines.append(f"  {'':24} the diagnosis block of the turn with the attachments {share([r.block for r in rows])}"
                     f", {sorted(r.block_chars for r in rows)[n // 2]} characters (median)")
    return "\n".join(lines)


# -- the model rounds a scripted model needs ------------------------------------------------------------------------

MAX_TOOL_ROUNDS = 3


def rounds_eval(scenarios: Sequence[Scenario], model: str | None = None) -> list[tuple[str, int, int]]:
    """(scenario, rounds without proactive evidence, rounds with it) for a scripted model that calls the tools it
    would need, breadth first, and answers once every evidence string is in what it has read:

    round 1 `argocd_application`; round 2, for the focused resource and each one Argo CD calls unhealthy or out of
    sync, its manifest, events, containers and current log (workloads) or related objects (others), all in one round;
    round 3 the previous logs and the related objects of the workloads. Rounds = tool rounds + the answering one;
    `MAX_TOOL_ROUNDS + 2` when even that does not find everything. With the proactive evidence the first prompt is
    the agent's (no attachments, this model's budget), and the tool rounds start only if it misses something."""
    import asyncio

    from llama_stack_argocd.agent.composer import ContextComposer
    from llama_stack_argocd.agent.instructions import system_instructions
    from llama_stack_argocd.agent.planner import merged_findings
    from llama_stack_argocd.context.errors import ContextError
    from llama_stack_argocd.context.evidence import EvidenceGatherer
    from llama_stack_argocd.context.kube import KubernetesSource
    from llama_stack_argocd.context.redaction import Redactor
    from llama_stack_argocd.context.refs import ResourceRef
    from llama_stack_argocd.context.service import ContextService
    from llama_stack_argocd.context.settings import ContextSettings
    from llama_stack_argocd.context.workloads import WORKLOAD_KINDS

    sys.path.insert(0, str(REPO))
    from tests.support import cluster as stand_in
    from tests.support.scenario_cluster import build_all, seeder

    apps = build_all(scenarios)
    composer, instructions = ContextComposer(Redactor), system_instructions(None)

    async def call(run: Any) -> str:
        try:
            return json.dumps(await run)
        except ContextError as error:
            return json.dumps(error.to_dict())

    async def tool_rounds(service: ContextService, seeded: Any, known: str) -> int:
        s = seeded.scenario
        if all(found(known, s.evidence)):
            return 1
        application = json.loads(await call(service.application(seeded.app)))
        known += application and json.dumps(application)
        if all(found(known, s.evidence)):
            return 2
        refs = [seeded.focus] if seeded.focus else []
        for r in application.get("resources") or []:
            if (r.get("health") or {}).get("status") not in (None, "Healthy") or r.get("sync") not in (None, "Synced"):
                ref = ResourceRef(kind=r["kind"], name=r["name"], namespace=r.get("namespace"))
                refs.append(ref) if ref not in refs else None
        workloads = [r for r in refs if r.kind in WORKLOAD_KINDS]
        second = [service.manifest(seeded.app, r) for r in refs] + [service.events(seeded.app, r) for r in refs]
        second += [service.containers(seeded.app, r) for r in workloads] + [service.logs(seeded.app, r)
                                                                               for r in workloads]
        second += [service.related(seeded.app, r) for r in refs if r not in workloads]
        known += "\n".join(await asyncio.gather(*(call(c) for c in second)))
        if all(found(known, s.evidence)):
            return 3
        third = [service.logs(seeded.app, r, previous=True) for r in workloads]
        third += [service.related(seeded.app, r) for r in workloads]
        known += "\n".join(await asyncio.gather(*(call(c) for c in third)))
        return 4 if all(found(known, s.evidence)) else MAX_TOOL_ROUNDS + 2

    async def run(kubeconfig: str) -> list[tuple[str, int, int]]:
        settings = ContextSettings(kubeconfig=kubeconfig, read_cache_seconds=0)
        service = ContextService(KubernetesSource(settings), settings)
        gatherer = EvidenceGatherer(service)
        out = []
        for seeded in apps:
            s = seeded.scenario
            budget = composer.budget(model)
            room = composer.allocation(budget, instructions, 0).attachments
            composed = composer.compose(s.question, [], set(), None, model, instructions)
            composer.add_evidence(composed, gatherer, await gatherer.collect(seeded.app, None, s.question), budget,
                                  room, set())
            out.append((s.name, await tool_rounds(service, seeded, s.question),
                        await tool_rounds(service, seeded, composed.text)))
        return out

    with stand_in.start_cluster(seeder(apps)) as handle:
        return asyncio.run(run(handle.kubeconfig_path))


def format_rounds(results: Sequence[tuple[str, int, int]]) -> str:
    n = len(results) or 1
    lines = ["model rounds a scripted tool-calling model needs (tool rounds + the answer; "
             f"{MAX_TOOL_ROUNDS + 2} = not found in {MAX_TOOL_ROUNDS} tool rounds)"]
    for label, index in (("without proactive evidence", 1), ("with proactive evidence", 2)):
        values = [r[index] for r in results]
        spread = ", ".join(f"{k}: {values.count(k)}" for k in sorted(set(values)))
        lines.append(f"  {label:27} mean {sum(values) / n:.2f} ({spread})")
    return "\n".join(lines)


# -- asking a real model ---------------------------------------------------------------------------------------------

SYSTEM = ("You are an assistant for Argo CD. Diagnose the problem of the Kubernetes resource from the context. "
          "Name the root cause and quote the exact lines or fields that prove it. Be brief.")


def ask_model(url: str, model: str, context: str, question: str, api_key: str | None, timeout: float) -> str:
    import httpx

    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    body = {"model": model, "temperature": 0, "max_tokens": 400,
            "messages": [{"role": "system", "content": SYSTEM},
                         {"role": "user", "content": f"{question}\n\n{context}"}]}
    resp = httpx.post(url.rstrip("/") + "/chat/completions", json=body, headers=headers, timeout=timeout)
    resp.raise_for_status()
    return resp.json()["choices"][0]["message"]["content"] or ""


def model_eval(scenarios: Sequence[Scenario], url: str, model: str, budget: int, api_key: str | None,
               timeout: float) -> str:
    lines = [f"{'scenario':<34} {'ours':>6} {'naive':>6}   (share of evidence strings the answer mentions, "
             f"context budget {budget:,} tokens)"]
    totals = [0.0, 0.0]
    for s in scenarios:
        scores = []
        for text in (our_context(s, budget).text, naive_context(s, budget)):
            try:
                answer = ask_model(url, model, text, s.question, api_key, timeout)
                scores.append(sum(found(answer, s.evidence)) / len(s.evidence))
            except Exception as exc:  # noqa: BLE001 - a failed call scores 0 and is reported
                print(f"{s.name}: {type(exc).__name__}: {exc}", file=sys.stderr)
                scores.append(0.0)
        totals[0] += scores[0]
        totals[1] += scores[1]
        lines.append(f"{s.name:<34} {scores[0] * 100:>5.0f}% {scores[1] * 100:>5.0f}%")
    n = len(scenarios) or 1
    lines.append(f"{'overall (mean)':<34} {totals[0] / n * 100:>5.0f}% {totals[1] / n * 100:>5.0f}%")
    return "\n".join(lines)


# -- command line ----------------------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m llama_stack_argocd.cli.eval", description=__doc__.split("\n")[0])
    parser.add_argument("--scenarios", type=Path, default=DEFAULT_SCENARIOS)
    parser.add_argument("--only", nargs="*", default=[], help="scenario names (substrings) to run")
    parser.add_argument("--budgets", nargs="*", type=int, default=list(BUDGETS))
    parser.add_argument("--tokenizer-model", default=None, help="count tokens as for this model id")
    parser.add_argument("--show", metavar="SCENARIO", help="print our context (and the naive one with --naive)")
    parser.add_argument("--naive", action="store_true")
    parser.add_argument("--budget", type=int, default=4000, help="budget for --show and --model-url")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--min-recall", type=float, default=None,
                        help="exit 1 unless every scenario reaches this recall at 4k tokens (0..1)")
    parser.add_argument("--model-url", help="an OpenAI-compatible endpoint (…/v1): ask it and score the answers")
    parser.add_argument("--model", default=os.environ.get("EVAL_MODEL", ""))
    parser.add_argument("--api-key-env", default="EVAL_API_KEY", help="environment variable holding the API key")
    parser.add_argument("--timeout", type=float, default=120.0)
    parser.add_argument("--proactive", action="store_true",
                        help="the first prompt with the evidence the agent reads itself, scenarios seeded on the "
                        "Kubernetes stand-in (needs the repository's tests/)")
    parser.add_argument("--rounds", action="store_true",
                        help="the model rounds a scripted tool-calling model needs, with and without the proactive "
                        "evidence (scenarios on the Kubernetes stand-in)")
    args = parser.parse_args(argv)

    if args.show:
        [s] = load_scenarios(args.scenarios, [args.show])[:1] or [None]
        if s is None:
            print(f"no scenario matches {args.show!r}", file=sys.stderr)
            return 2
        if args.naive:
            print(naive_context(s, args.budget, args.tokenizer_model))
        else:
            d = our_context(s, args.budget, args.tokenizer_model)
            print(d.text)
            print(f"\n[{d.tokens} tokens of {args.budget}; truncated={d.truncated}]", file=sys.stderr)
        return 0

    started = time.perf_counter()
    scenarios = load_scenarios(args.scenarios, args.only)
    if args.model_url:
        print(model_eval(scenarios, args.model_url, args.model, args.budget, os.environ.get(args.api_key_env),
                         args.timeout))
        return 0
    if args.rounds:
        rounds = rounds_eval(scenarios, args.tokenizer_model)
        print(json.dumps(rounds) if args.json else format_rounds(rounds))
        return 0
    if args.proactive:
        results = proactive_eval(scenarios)
        if args.json:
            print(json.dumps([vars(r) for r in results], indent=2))
        else:
            print(format_proactive(results))
            for r in results:
                if r.missing and r.model is None:
                    print(f"  {r.scenario}: the evidence alone misses {r.missing}")
            for r in results:
                if r.missing_block and r.model is None:
                    print(f"  {r.scenario}: the block misses {r.missing_block}")
            print(f"\n{len(scenarios)} scenarios in {time.perf_counter() - started:.1f}s")
        return 0
    rows = evaluate(scenarios, args.budgets, args.tokenizer_model)
    if args.json:
        print(json.dumps([{
            "scenario": r.scenario.name, "log_lines": r.log_lines, "naive_full_tokens": r.naive_full_tokens,
            "cause_named": r.cause_named, "cause_rank": r.cause_rank, "findings": r.findings,
            "first_prompt": {"recall": r.first_recall, "tokens": r.first_tokens, "missing": r.first_missing},
            "budgets": {str(b): vars(c) for b, c in r.cells.items()}} for r in rows], indent=2))
    else:
        tok = tokenizer_for(args.tokenizer_model)
        print(LEGEND.format(lines=NAIVE_LOG_LINES, tok=f"{tok.name} ({'exact' if tok.exact else 'approximation'})"))
        print()
        print(format_table(rows, args.budgets))
        missing = [(r.scenario.name, b, r.cells[b].ours_missing) for r in rows for b in args.budgets
                   if r.cells[b].ours_missing and b >= 4000]
        for name, b, miss in missing:
            print(f"  {name} @ {_k(b)}: missing {miss}")
        print(f"\n{len(rows)} scenarios in {time.perf_counter() - started:.1f}s")
    if args.min_recall is not None:
        b = 4000 if 4000 in args.budgets else max(args.budgets)
        if any(r.cells[b].ours_recall < args.min_recall for r in rows):
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
