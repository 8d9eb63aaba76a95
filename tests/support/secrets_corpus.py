"""The planted-secret corpus (tests/data/secrets/corpus.yaml) generated into realistic places.

`load()` renders every item with its seeded secret; `lab_objects()` builds the `argocd:secrets-lab` Application and
what it deploys (a Deployment and a Pod with the env, args and shell commands, the ConfigMap with the config files,
Events, the Pod's log); `question()` and `attachment()` are what a user sends. `leaks(text)` lists the planted
secrets found in a text, `lost_harmless(text)` the look-alikes that did not come out as they went in.
"""

from __future__ import annotations

import base64
import json
import random
import re
import string
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from tests.support.cluster import application, object_meta

CORPUS = Path(__file__).resolve().parents[1] / "data" / "secrets" / "corpus.yaml"
LAB_NS, LAB_APP, ARGOCD_NS = "secrets-lab", "secrets-lab", "argocd"
CREATED = "2026-11-25T07:00:00Z"
DEPLOYMENT, POD, CONFIGMAP, CONTAINER = "lab-api", "lab-api-0", "lab-config", "api"
_ALNUM = string.ascii_letters + string.digits


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _secret(shape: str, rng: random.Random) -> tuple[str, list[str]]:
    """(the value to plant, the fragments that must never come out)."""
    def pick(alphabet: str, n: int) -> str:
        return "".join(rng.choice(alphabet) for _ in range(n))

    match shape:
        case "password":
            value = pick(string.ascii_letters, 5) + pick(string.digits, 3) + rng.choice("!#%*+-_") + pick(_ALNUM, 5)
        case "token":
            value = pick(string.ascii_letters, 4) + pick(string.digits, 2) + pick(_ALNUM, 26)
        case "hex":
            value = pick("abcdef", 2) + pick("0123456789", 2) + pick("0123456789abcdef", 28)
        case "aws_secret":
            value = pick(_ALNUM, 18) + "/" + pick(_ALNUM + "+", 21)
        case "aws_key_id":
            value = "AKIA" + pick(string.ascii_uppercase + string.digits, 16)
        case "b64":
            value = base64.b64encode(f"user-{pick(_ALNUM, 6)}:{pick(_ALNUM, 12)}".encode()).decode()
        case "jwt":
            header = _b64url(json.dumps({"alg": "RS256", "kid": pick(_ALNUM, 6)}).encode())
            payload = _b64url(json.dumps({"sub": pick(_ALNUM, 10), "exp": 1893456000}).encode())
            value = f"{header}.{payload}.{_b64url(rng.randbytes(32))}"
        case "pem":
            body = [base64.b64encode(rng.randbytes(48)).decode() for _ in range(3)]
            value = "-----BEGIN RSA PRIVATE KEY-----\n" + "\n".join(body) + "\n-----END RSA PRIVATE KEY-----"
            return value, body
        case "github":
            value = "ghp_" + pick(_ALNUM, 36)
        case "slack":
            value = f"xoxb-{pick(string.digits, 11)}-{pick(string.digits, 12)}-{pick(_ALNUM, 24)}"
        case "stripe":
            value = "sk_live_" + pick(_ALNUM, 24)
        case "google":
            value = "AIza" + pick(_ALNUM + "_-", 35)
        case "sendgrid":
            value = f"SG.{pick(_ALNUM, 22)}.{pick(_ALNUM, 43)}"
        case _:
            raise ValueError(f"unknown secret shape {shape!r}")
    return value, [value]


@dataclass(frozen=True)
class Planted:
    form: str
    place: str
    item: Any  # the rendered item: a name, a line, a list of args, {file, text}
    secret: str
    fragments: tuple[str, ...]


@dataclass
class Corpus:
    planted: list[Planted] = field(default_factory=list)
    harmless: dict[str, list[str]] = field(default_factory=dict)

    @property
    def forms(self) -> set[str]:
        return {p.form for p in self.planted}

    def at(self, place: str) -> list[Planted]:
        return [p for p in self.planted if p.place == place]

    @property
    def harmless_count(self) -> int:
        return sum(len(v) for v in self.harmless.values())

    def leaks(self, text: str) -> list[Planted]:
        return [p for p in self.planted if any(f in text for f in p.fragments)]

    def lost_harmless(self, text: str) -> list[str]:
        """Look-alikes not found intact. Env entries are found as a name/value pair of a JSON object."""
        lost = []
        for place, values in self.harmless.items():
            for value in values:
                if place == "env":
                    name, _, val = value.partition("=")
                    pattern = rf'"name":\s*"{re.escape(name)}",\s*"value":\s*"{re.escape(val)}"'
                    if not re.search(pattern, text):
                        lost.append(value)
                elif value not in text:
                    lost.append(value)
        return lost


def _render(template: Any, secret: str) -> Any:
    if isinstance(template, str):
        return template.replace("{s}", secret)
    if isinstance(template, list):
        return [_render(t, secret) for t in template]
    return {k: _render(v, secret) for k, v in template.items()}


@cache
def load(path: Path = CORPUS) -> Corpus:
    data = yaml.safe_load(path.read_text())
    corpus = Corpus(harmless={k: list(v) for k, v in data["harmless"].items()})
    for form in data["forms"]:
        rng = random.Random(form["form"])
        for item in form["items"]:
            secret, fragments = _secret(form["shape"], rng)
            if form["place"] in ("env", "helm") and "=" not in item:
                item = f"{item}={{s}}"
            corpus.planted.append(Planted(form["form"], form["place"], _render(item, secret), secret, tuple(fragments)))
    return corpus


def _env(corpus: Corpus) -> list[dict[str, str]]:
    entries = [p.item for p in corpus.at("env")] + corpus.harmless["env"]
    return [{"name": name, "value": value} for name, _, value in (e.partition("=") for e in entries)]


def _containers(corpus: Corpus) -> dict[str, Any]:
    args = [arg for p in corpus.at("args") for arg in p.item]
    commands = [p.item for p in corpus.at("command")]
    init = [{"name": f"setup-{i}", "image": "alpine:3.20", "command": ["sh", "-c", command]}
            for i, command in enumerate([*commands, "exec /app/server " + " ".join(corpus.harmless["args"])])]
    main = {"name": CONTAINER, "image": "ghcr.io/example/lab-api:1.0", "args": args, "env": _env(corpus)}
    return {"initContainers": init, "containers": [main]}


def config_files(corpus: Corpus) -> dict[str, str]:
    files: dict[str, list[str]] = {}
    for planted in corpus.at("configmap"):
        files.setdefault(planted.item["file"], []).append(planted.item["text"])
    files.setdefault("app.yaml", []).extend(corpus.harmless["configmap"][:4])
    files.setdefault("redis.conf", []).extend(corpus.harmless["configmap"][4:])
    return {name: "\n".join(lines) + "\n" for name, lines in files.items()}


def log_text(corpus: Corpus) -> str:
    lines = [p.item for p in corpus.at("log")] + corpus.harmless["log"]
    return "".join(f"2026-11-25T07:{i // 60:02d}:{i % 60:02d}Z {line}\n" for i, line in enumerate(lines))


def question(corpus: Corpus) -> str:
    return " ".join([*(p.item for p in corpus.at("question")), *corpus.harmless["question"]])


def attachment(corpus: Corpus) -> str:
    return "\n".join(p.item for p in corpus.at("attachment")) + "\n"


def _meta(name: str, namespace: str, uid: str, **extra: Any) -> dict[str, Any]:
    return object_meta(name, namespace, uid, created=CREATED, **extra)


def lab_objects(corpus: Corpus) -> list[tuple[tuple[str, str, str], str, str, dict[str, Any]]]:
    """((group, version, plural), namespace, name, object) of the lab Application and what it deploys."""
    spec = _containers(corpus)
    parameters = [{"name": n, "value": v} for n, _, v in (p.item.partition("=") for p in corpus.at("helm"))]
    lab = application(
        LAB_APP, "uid-lab", project="default", namespace=LAB_NS, created=CREATED,
        source={"repoURL": "https://git.example.com/lab.git", "path": "chart", "targetRevision": "main",
                "helm": {"parameters": parameters,
                         "values": "\n".join(p.item for p in corpus.at("helm_values")) + "\n"}},
        sync={"status": "Synced", "revision": "abc1234"}, health={"status": "Degraded"},
        resources=[{"group": "apps", "version": "v1", "kind": "Deployment", "namespace": LAB_NS, "name": DEPLOYMENT,
                    "status": "Synced"},
                   {"version": "v1", "kind": "Pod", "namespace": LAB_NS, "name": POD, "status": "Synced"},
                   {"version": "v1", "kind": "ConfigMap", "namespace": LAB_NS, "name": CONFIGMAP, "status": "Synced"}])
    deployment = {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": _meta(DEPLOYMENT, LAB_NS, "uid-lab-deploy"),
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": DEPLOYMENT}},
                 "template": {"metadata": {"labels": {"app": DEPLOYMENT}}, "spec": spec}},
        "status": {"replicas": 1, "readyReplicas": 0},
    }
    waiting = {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 5m0s restarting failed container"}}
    pod = {
        "apiVersion": "v1", "kind": "Pod", "metadata": _meta(POD, LAB_NS, "uid-lab-pod", labels={"app": "lab"}),
        "spec": {**spec, "restartPolicy": "Always", "nodeName": "node-1"},
        "status": {"phase": "Running", "startTime": "2026-11-25T07:00:00Z", "containerStatuses": [
            {"name": CONTAINER, "image": "ghcr.io/example/lab-api:1.0", "imageID": "ghcr.io/example/lab-api@sha256:"
             + "ab" * 32, "ready": False, "restartCount": 4, "state": waiting}]},
    }
    configmap = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": _meta(CONFIGMAP, LAB_NS, "uid-lab-cm"),
                 "data": config_files(corpus)}
    messages = [p.item for p in corpus.at("event")] + corpus.harmless["event"]
    events = [{
        "apiVersion": "v1", "kind": "Event", "metadata": _meta(f"lab-ev-{i}", LAB_NS, f"uid-lab-ev-{i}"),
        "involvedObject": {"apiVersion": "v1", "kind": "Pod", "name": POD, "namespace": LAB_NS, "uid": "uid-lab-pod"},
        "reason": f"LabReason{i}", "message": message, "type": "Warning", "count": 1,
        "firstTimestamp": "2026-11-25T07:00:00Z", "lastTimestamp": f"2026-11-25T07:{i:02d}:00Z",
        "source": {"component": "kubelet", "host": "node-1"}, "reportingComponent": "kubelet",
        "reportingInstance": "node-1",
    } for i, message in enumerate(messages)]
    out = [(("argoproj.io", "v1alpha1", "applications"), ARGOCD_NS, LAB_APP, lab),
           (("apps", "v1", "deployments"), LAB_NS, DEPLOYMENT, deployment),
           (("", "v1", "pods"), LAB_NS, POD, pod),
           (("", "v1", "configmaps"), LAB_NS, CONFIGMAP, configmap)]
    return out + [(("", "v1", "events"), LAB_NS, e["metadata"]["name"], e) for e in events]


def seed(emulator: Any) -> None:
    """Add the lab to a running Kubernetes stand-in (tests/support/cluster.py `start_cluster(seed=...)`)."""
    import kmock

    corpus = load()
    for (group, version, plural), namespace, name, obj in lab_objects(corpus):
        emulator.objects[kmock.resource(group, version, plural), namespace, name] = obj
    plain = kmock.headers({"Content-Type": "text/plain; charset=utf-8"})
    emulator[f"get /api/v1/namespaces/{LAB_NS}/pods/{POD}/log"] << plain << log_text(corpus).encode()
