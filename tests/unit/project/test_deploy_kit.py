"""deploy/: every kustomization renders with `kubectl kustomize`, every object is valid, and the promises hold.

- Kustomizations render as they are. Components (kind: Component) cannot render alone when they patch objects they
  do not create, so each is rendered inside a throw-away kustomization with stand-ins for the objects it patches
  (COMPONENT_HOSTS below); a Component without an entry there fails the test, so none goes unrendered.
- Built-in kinds are validated offline against the Kubernetes OpenAPI schemas shipped in the `kubernetes-validate`
  wheel (strict: unknown fields fail), for the oldest and the newest Kubernetes this kit supports. The ArgoCD custom
  resource has no schema there: its required structure is checked here, and the core objects embedded in it
  (containers, volumes, mounts) are validated as a Pod.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from functools import cache
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

REPO = Path(__file__).resolve().parents[3]
DEPLOY = REPO / "deploy"
README = DEPLOY / "README.md"
KUBERNETES_VERSIONS = ("1.29", "1.37")  # OpenShift 4.16 is 1.29; 1.37 is the newest schema set in kubernetes-validate

NAME = "llama-stack-argocd"
PROXY_SECRET = "llama-stack-argocd-proxy-secret"
EXTENSION_CONFIG_KEY = "extension.config.assistant"
RBAC_LINE = "p, role:readonly, extensions, invoke, assistant, allow"
INSTALLER = "quay.io/argoprojlabs/argocd-extension-installer:"
SETTINGS_PATH = "/tmp/extensions/resources/extensions-assistant-settings/extension-assistant-settings.js"

READ_VERBS = {"get", "list", "watch"}
BASE_RULES = {
    "": {"pods", "pods/log", "events", "services", "endpoints", "limitranges", "persistentvolumes"},
    "events.k8s.io": {"events"},
    "apps": {"replicasets", "deployments", "statefulsets", "daemonsets"},
    "batch": {"jobs"},
    "networking.k8s.io": {"networkpolicies"},
    "argoproj.io": {"applications", "analysisruns"},
}
# Read by name only: a claim's bound volume (cluster-scoped; listing them all would show every tenant's volumes).
GET_ONLY = {("", "persistentvolumes")}

# --- stand-ins for what the Components patch ---

ARGOCD_STANDIN = """
apiVersion: v1
kind: ConfigMap
metadata: {name: argocd-cm, labels: {app.kubernetes.io/part-of: argocd}}
data: {url: "https://argocd.example.test"}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: argocd-rbac-cm}
data: {policy.csv: "g, platform-team, role:admin\\n", policy.default: ""}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: argocd-cmd-params-cm}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: argocd-server}
spec:
  selector: {matchLabels: {app.kubernetes.io/name: argocd-server}}
  template:
    metadata: {labels: {app.kubernetes.io/name: argocd-server}}
    spec:
      serviceAccountName: argocd-server
      containers:
      - name: argocd-server
        image: quay.io/argoproj/argocd:v3.2.0
        args: [/usr/local/bin/argocd-server]
        volumeMounts:
        - {name: tmp, mountPath: /tmp}
        - {name: plugins-home, mountPath: /home/argocd}
      volumes:
      - {name: tmp, emptyDir: {}}
      - {name: plugins-home, emptyDir: {}}
"""

OPENSHIFT_GITOPS_STANDIN = """
apiVersion: argoproj.io/v1beta1
kind: ArgoCD
metadata: {name: openshift-gitops}
spec:
  server:
    route: {enabled: true}
  rbac:
    policy: "g, system:cluster-admins, role:admin\\ng, cluster-admins, role:admin\\n"
"""

# component dir -> list of (label, namespace, resources (repo-relative dirs), stand-in YAML or "")
COMPONENT_HOSTS: dict[str, list[tuple[str, str | None, list[str], str]]] = {
    "deploy/assistant-settings": [("alone", "argocd", [], "")],
    "deploy/argocd/wiring": [("argocd-install", "argocd", [], ARGOCD_STANDIN)],
    "deploy/openshift-gitops/wiring": [("argocd-cr", "openshift-gitops", [], OPENSHIFT_GITOPS_STANDIN)],
    "deploy/overlays/with-vllm": [
        ("argocd-backend", None, ["deploy/argocd/backend"], ""),
        ("openshift-backend", None, ["deploy/openshift-gitops/backend"], ""),
    ],
    "deploy/overlays/wider-read": [
        ("argocd-backend", None, ["deploy/argocd/backend"], ""),
        ("openshift-backend", None, ["deploy/openshift-gitops/backend"], ""),
    ],
    "deploy/overlays/kubernetes-tokens": [
        ("argocd-backend", None, ["deploy/argocd/backend"], ""),
        ("openshift-backend", None, ["deploy/openshift-gitops/backend"], ""),
    ],
    "deploy/overlays/argocd-api-source": [
        ("argocd-backend", None, ["deploy/argocd/backend"], ""),
        ("openshift-backend", None, ["deploy/openshift-gitops/backend"], ""),
    ],
    "deploy/overlays/argocd-api-account": [("argocd-install", "argocd", [], ARGOCD_STANDIN)],
    "deploy/overlays/scale-out": [
        ("argocd-backend", None, ["deploy/argocd/backend"], ""),
        ("openshift-backend", None, ["deploy/openshift-gitops/backend"], ""),
    ],
    "deploy/overlays/mcp-for-argocd": [
        ("argocd-backend", None, ["deploy/argocd/backend"], ""),
        ("openshift-backend", None, ["deploy/openshift-gitops/backend"], ""),
    ],
    "deploy/overlays/monitoring": [
        ("argocd-backend", None, ["deploy/argocd/backend"], ""),
        ("openshift-backend", None, ["deploy/openshift-gitops/backend"], ""),
    ],
}
# The one opt-in write: the Kubernetes-token mode's reviews (they answer a question and change nothing).
TOKEN_REVIEW_OVERLAY = "deploy/overlays/kubernetes-tokens"
TOKEN_REVIEW_RULES = {("authentication.k8s.io", "tokenreviews", "create"),
                      ("authorization.k8s.io", "subjectaccessreviews", "create")}


def kustomization_dirs() -> list[tuple[str, str]]:
    """(repo-relative dir, kind) of every kustomization under deploy/."""
    found = []
    for path in sorted(DEPLOY.rglob("*")):
        if path.name in ("kustomization.yaml", "kustomization.yml", "Kustomization"):
            kind = (yaml.safe_load(path.read_text()) or {}).get("kind", "Kustomization")
            found.append((str(path.parent.relative_to(REPO)), kind))
    return found


def _kubectl() -> str:
    found = shutil.which("kubectl")
    if not found:
        pytest.fail("kubectl is needed (`kubectl kustomize` renders the kit offline); it is at /usr/bin/kubectl here")
    return found


def _kustomize(directory: Path) -> list[dict]:
    run = subprocess.run(
        [_kubectl(), "kustomize", str(directory)], check=False, capture_output=True, text=True, timeout=120
    )
    if run.returncode != 0:
        pytest.fail(f"kubectl kustomize {directory} failed:\n{run.stderr}{run.stdout}")
    return [doc for doc in yaml.safe_load_all(run.stdout) if doc]


@cache
def render(directory: str) -> tuple[dict, ...]:
    return tuple(_kustomize(REPO / directory))


@cache
def render_component(component: str, label: str, tmp_root: str) -> tuple[dict, ...]:
    hosts = {host[0]: host for host in COMPONENT_HOSTS[component]}
    _, namespace, resources, standin = hosts[label]
    work = Path(tmp_root) / component.replace("/", "_") / label
    work.mkdir(parents=True, exist_ok=True)
    # kustomize refuses absolute paths to other kustomizations: refer to the repository relatively.

    def relative(repo_dir: str) -> str:
        return os.path.relpath(REPO / repo_dir, work)

    kustomization: dict = {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization"}
    if namespace:
        kustomization["namespace"] = namespace
    kustomization["resources"] = [relative(r) for r in resources]
    if standin:
        (work / "standin.yaml").write_text(standin)
        kustomization["resources"].append("standin.yaml")
    kustomization["components"] = [relative(component)]
    (work / "kustomization.yaml").write_text(yaml.safe_dump(kustomization))
    return tuple(_kustomize(work))


@pytest.fixture(scope="session")
def tmp_root(tmp_path_factory) -> str:
    return str(tmp_path_factory.mktemp("kustomize-hosts"))


def all_renders(tmp_root: str) -> list[tuple[str, tuple[dict, ...]]]:
    renders = []
    for directory, kind in kustomization_dirs():
        if kind == "Component":
            for label, *_ in COMPONENT_HOSTS[directory]:
                renders.append((f"{directory} [{label}]", render_component(directory, label, tmp_root)))
        else:
            renders.append((directory, render(directory)))
    return renders


def one(objects, kind: str, name: str | None = None) -> dict:
    matches = [o for o in objects if o["kind"] == kind and (name is None or o["metadata"]["name"] == name)]
    assert len(matches) == 1, f"expected one {kind} {name or ''}, found {len(matches)}"
    return matches[0]


# --- every kustomization renders and validates ---

CASES = kustomization_dirs()


def test_the_kit_has_the_expected_kustomizations():
    dirs = {d for d, _ in CASES}
    for expected in (
        "deploy/base",
        "deploy/argocd/backend",
        "deploy/argocd/wiring",
        "deploy/openshift-gitops/backend",
        "deploy/openshift-gitops/wiring",
        "deploy/overlays/with-vllm",
    ):
        assert expected in dirs


@pytest.mark.parametrize(("directory", "kind"), CASES, ids=[d for d, _ in CASES])
def test_renders_and_every_object_is_valid(directory: str, kind: str, tmp_root: str):
    if kind == "Component":
        assert directory in COMPONENT_HOSTS, f"{directory} is a Component with no stand-in host in this test: add one"
        renders = [render_component(directory, label, tmp_root) for label, *_ in COMPONENT_HOSTS[directory]]
    else:
        assert kind == "Kustomization", f"{directory}: unexpected kind {kind}"
        renders = [render(directory)]
    for objects in renders:
        assert objects, f"{directory} renders nothing"
        for obj in objects:
            validate(obj)


def validate(obj: dict) -> None:
    where = f"{obj.get('kind')}/{obj.get('metadata', {}).get('name')}"
    if obj.get("apiVersion", "").startswith("argoproj.io/") and obj.get("kind") == "ArgoCD":
        validate_argocd_cr(obj)
        return
    if obj.get("apiVersion") == "monitoring.coreos.com/v1":  # prometheus-operator: see test_monitoring_kit.py
        from tests.unit.project.test_monitoring_kit import validate_monitoring_cr

        validate_monitoring_cr(obj)
        return
    for version in KUBERNETES_VERSIONS:
        problem = None
        try:
            kubernetes_validate.validate(obj, version, strict=True)
        except kubernetes_validate.ValidationError as error:
            path = ".".join(str(p) for p in error.path)
            problem = f"{where} is not a valid Kubernetes {version} object at {path}: {error.message}"
        except kubernetes_validate.SchemaNotFoundError as error:
            problem = f"{where}: {error.message} (add a structural check for this custom resource)"
        if problem:  # reported outside the except block: no jsonschema traceback around it
            pytest.fail(problem)


def validate_argocd_cr(obj: dict) -> None:
    """ArgoCD (argoproj.io/v1beta1, argocd-operator): the fields this kit sets, checked by shape."""
    assert obj["apiVersion"] == "argoproj.io/v1beta1"
    assert obj["metadata"].get("name")
    spec = obj["spec"]
    assert isinstance(spec.get("extraConfig", {}), dict)
    assert all(isinstance(v, str) for v in spec.get("extraConfig", {}).values()), "extraConfig values are strings"
    assert isinstance(spec.get("rbac", {}).get("policy", ""), str)
    server = spec.get("server", {})
    assert all(isinstance(a, str) for a in server.get("extraCommandArgs", []))
    route = server.get("route", {})
    assert isinstance(route.get("enabled", True), bool)
    assert all(isinstance(v, str) for v in route.get("annotations", {}).values())
    # The core objects inside: validate them as a Pod would carry them.
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "argocd-server"},
        "spec": {
            "initContainers": server.get("initContainers", []),
            "containers": [
                {"name": "argocd-server", "image": "argocd", "volumeMounts": server.get("volumeMounts", [])}
            ],
            "volumes": server.get("volumes", []),
        },
    }
    validate(pod)


def test_no_secret_is_committed():
    for path in DEPLOY.rglob("*"):
        if path.is_file() and path.suffix in (".yaml", ".yml"):
            for doc in yaml.safe_load_all(path.read_text()):
                assert not (doc and doc.get("kind") == "Secret"), (
                    f"{path}: Secrets are created by hand, never committed"
                )
        if path.is_file() and path.suffix in (".yaml", ".yml", ".env", ".js"):
            assert "secretGenerator" not in path.read_text(), f"{path}: no generated Secret with a value in git"


# --- RBAC: read-only, the listed resources, no Secrets ---


def _rules(objects) -> list[dict]:
    return [rule for o in objects if o["kind"] in ("ClusterRole", "Role") for rule in o.get("rules", [])]


def _grants(rule: dict) -> set[tuple[str, str, str]]:
    return {(g, r, v) for g in rule.get("apiGroups", []) for r in rule.get("resources", []) for v in rule["verbs"]}


def test_no_role_anywhere_can_write_or_read_secrets(tmp_root: str):
    for label, objects in all_renders(tmp_root):
        for rule in _rules(objects):
            if not set(rule.get("verbs", [])) <= READ_VERBS:  # only the opt-in reviews, and exactly those
                assert label.startswith(TOKEN_REVIEW_OVERLAY), f"{label}: write verb in {rule}"
                assert _grants(rule) <= TOKEN_REVIEW_RULES, f"{label}: {rule}"
            assert "*" not in json.dumps(rule), f"{label}: wildcard in {rule}"
            assert not rule.get("nonResourceURLs"), f"{label}: {rule}"
            assert not {"secrets", "configmaps"} & set(rule.get("resources", [])), f"{label}: {rule}"


@pytest.mark.parametrize("directory", ["deploy/base", "deploy/argocd/backend", "deploy/openshift-gitops/backend"])
def test_the_back_end_reads_exactly_the_listed_resources(directory: str):
    objects = render(directory)
    role = one(objects, "ClusterRole")
    granted: dict[str, set[str]] = {}
    for rule in role["rules"]:
        expected = {"get"} if {(g, r) for g in rule["apiGroups"] for r in rule["resources"]} <= GET_ONLY else READ_VERBS
        assert set(rule["verbs"]) == expected, rule
        for group in rule["apiGroups"]:
            granted.setdefault(group, set()).update(rule["resources"])
    assert granted == BASE_RULES
    binding = one(objects, "ClusterRoleBinding")
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "ClusterRole",
        "name": role["metadata"]["name"],
    }
    account = one(objects, "ServiceAccount")
    assert [(s["kind"], s["name"]) for s in binding["subjects"]] == [("ServiceAccount", account["metadata"]["name"])]
    if directory != "deploy/base":
        assert binding["subjects"][0]["namespace"] == account["metadata"]["namespace"]


@pytest.mark.parametrize("label", [h[0] for h in COMPONENT_HOSTS[TOKEN_REVIEW_OVERLAY]])
def test_kubernetes_tokens_overlay_adds_exactly_the_two_reviews(label: str, tmp_root: str):
    objects = render_component(TOKEN_REVIEW_OVERLAY, label, tmp_root)
    base_role = one(objects, "ClusterRole", "llama-stack-argocd-read")
    assert all(set(rule["verbs"]) <= READ_VERBS for rule in base_role["rules"]), "the base stays read-only"
    review_role = one(objects, "ClusterRole", "llama-stack-argocd-token-review")
    assert set().union(*(_grants(rule) for rule in review_role["rules"])) == TOKEN_REVIEW_RULES
    writes = {g for rule in _rules(objects) for g in _grants(rule) if g[2] not in READ_VERBS}
    assert writes == TOKEN_REVIEW_RULES
    binding = one(objects, "ClusterRoleBinding", "llama-stack-argocd-token-review")
    account = one(objects, "ServiceAccount")
    assert binding["roleRef"]["name"] == review_role["metadata"]["name"]
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": account["metadata"]["name"],
                                    "namespace": account["metadata"]["namespace"]}]
    (container,) = one(objects, "Deployment", NAME)["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["ARGOCD_ASSISTANT_KUBERNETES_TOKENS"] == "true"
    assert "ARGOCD_ASSISTANT_PROXY_SECRET_FILE" in env, "the patch adds variables, it does not replace them"


# --- the Argo CD API source: the back-end's switch and token, the read-only Argo CD account ---

ARGOCD_TOKEN_SECRET = "llama-stack-argocd-argocd-token"
ASSISTANT_ACCOUNT = "argocd-assistant"


@pytest.mark.parametrize("label", [h[0] for h in COMPONENT_HOSTS["deploy/overlays/argocd-api-source"]])
def test_argocd_api_source_overlay_switches_the_source_and_mounts_the_token(label: str, tmp_root: str):
    objects = render_component("deploy/overlays/argocd-api-source", label, tmp_root)
    pod = one(objects, "Deployment", NAME)["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    env = {e["name"]: e for e in container["env"]}
    assert env["ARGOCD_CONTEXT_SOURCE"]["value"] == "argocd"
    assert env["ARGOCD_SERVER_URL"]["value"].startswith("https://argocd-server.")
    assert "ARGOCD_API_TOKEN" not in env and "ARGOCD_INSECURE" not in env, "a token file, and TLS verified"
    assert "ARGOCD_ASSISTANT_PROXY_SECRET_FILE" in env, "the patch adds variables, it does not replace them"
    token_dir = str(Path(env["ARGOCD_API_TOKEN_FILE"]["value"]).parent)
    mount = next(m for m in container["volumeMounts"] if m["mountPath"] == token_dir)
    volume = next(v for v in pod["volumes"] if v["name"] == mount["name"])
    assert mount["readOnly"] is True and volume["secret"]["secretName"] == ARGOCD_TOKEN_SECRET
    assert {"state", "tmp", "proxy-secret"} <= {v["name"] for v in pod["volumes"]}, "the other volumes stay"


@pytest.mark.parametrize("label", [h[0] for h in COMPONENT_HOSTS["deploy/overlays/mcp-for-argocd"]])
def test_mcp_bridge_overlay_points_at_the_server_read_only_with_a_token_file(label: str, tmp_root: str):
    objects = render_component("deploy/overlays/mcp-for-argocd", label, tmp_root)
    (container,) = one(objects, "Deployment", NAME)["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["ARGOCD_MCP_URL"].endswith("/mcp")
    assert "ARGOCD_MCP_ALLOW_WRITE_TOOLS" not in env and "ARGOCD_API_TOKEN" not in env, "read-only, token in a file"
    assert env["ARGOCD_API_TOKEN_FILE"].startswith("/etc/llama-stack-argocd/argocd-token/")
    assert "ARGOCD_CONTEXT_SOURCE" not in env, "the bridge does not change where the context tools read"


MCP_BOOLEAN_FLAGS = {"--stateless", "--allow-unauthenticated"}  # argocd-mcp 0.9's flags that take no value


def argocd_mcp_flags(args: list[str]) -> tuple[str, dict[str, list[str]]]:
    """(subcommand, {flag: values}) of an argocd-mcp command line as its yargs reads it (`--flag value`)."""
    command, rest = args[0], list(args[1:])
    flags: dict[str, list[str]] = {}
    while rest:
        flag = rest.pop(0)
        assert flag.startswith("--"), f"unexpected argument {flag!r}"
        flags.setdefault(flag, []).append("true" if flag in MCP_BOOLEAN_FLAGS else rest.pop(0))
    return command, flags


def mounted_secret_file(pod: dict, container: dict, path: str) -> tuple[str, str]:
    """(Secret name, key) a container reads at `path` through a Secret volume mount."""
    mount = next(m for m in container["volumeMounts"] if path.startswith(m["mountPath"].rstrip("/") + "/"))
    assert mount.get("readOnly") is True
    volume = next(v for v in pod["volumes"] if v["name"] == mount["name"])
    return volume["secret"]["secretName"], path[len(mount["mountPath"].rstrip("/")) + 1:]


@pytest.mark.parametrize("label", [h[0] for h in COMPONENT_HOSTS["deploy/overlays/mcp-for-argocd"]])
def test_mcp_for_argocd_0_9_is_wired_as_it_reads_its_settings(label: str, tmp_root: str):
    """What argocd-mcp 0.9.0 reads (dist/index.js): the subcommand and flags, MCP_AUTH_TOKEN (required for a
    non-loopback --bind-address), MCP_READ_ONLY; the Host it accepts is a loopback name or an --allowed-host-header.
    The bridge must reach it under an accepted Host, on its port, with the same token."""
    objects = render_component("deploy/overlays/mcp-for-argocd", label, tmp_root)
    server_pod = one(objects, "Deployment", "argocd-mcp")["spec"]["template"]
    (server,) = server_pod["spec"]["containers"]
    assert server["image"].rsplit(":", 1) == ["ghcr.io/argoproj-labs/mcp-for-argocd", "v0.9.0"]
    command, flags = argocd_mcp_flags(server["args"])
    assert command == "http" and flags["--stateless"] == ["true"]
    assert "--allow-unauthenticated" not in flags, "the token is the lock, not an outer layer"
    assert flags["--bind-address"] == ["0.0.0.0"], "the Pod IP: the Service must reach it"
    server_env = {e["name"]: e for e in server["env"]}
    token_ref = server_env["MCP_AUTH_TOKEN"]["valueFrom"]["secretKeyRef"]
    assert "value" not in server_env["MCP_AUTH_TOKEN"] and token_ref.get("optional") is not True
    assert server_env["MCP_READ_ONLY"]["value"] == "true"
    assert not {"ARGOCD_API_TOKEN", "ARGOCD_BASE_URL"} & server_env.keys(), "credentials come per request"

    backend_pod = one(objects, "Deployment", NAME)["spec"]["template"]["spec"]
    (backend,) = backend_pod["containers"]
    backend_env = {e["name"]: e.get("value") for e in backend["env"]}
    assert "ARGOCD_MCP_AUTH_TOKEN" not in backend_env, "a mounted file, never an inline value"
    url = backend_env["ARGOCD_MCP_URL"]
    match = re.fullmatch(r"http://([a-z0-9.-]+):(\d+)/mcp", url)
    assert match, url
    host, port = match.group(1), int(match.group(2))
    assert host in flags["--allowed-host-header"], "argocd-mcp answers 403 to any other Host"
    assert flags["--port"] == [str(port)]
    (container_port,) = server["ports"]
    assert container_port["containerPort"] == port
    service = one(objects, "Service", host.split(".")[0])
    assert service["spec"]["selector"].items() <= server_pod["metadata"]["labels"].items()
    (service_port,) = service["spec"]["ports"]
    assert service_port["port"] == port and service_port["targetPort"] in (port, container_port["name"])
    assert mounted_secret_file(backend_pod, backend, backend_env["ARGOCD_MCP_AUTH_TOKEN_FILE"]) == (
        token_ref["name"], token_ref["key"]), "the bridge sends the very token argocd-mcp checks"
    for probe in ("livenessProbe", "readinessProbe"):
        assert server[probe]["httpGet"]["path"] == "/healthz", "the one route before the token and Host checks"

    policy = one(objects, "NetworkPolicy", "argocd-mcp")
    assert policy["spec"]["podSelector"]["matchLabels"].items() <= server_pod["metadata"]["labels"].items()
    (rule,) = policy["spec"]["ingress"]
    (peer,) = rule["from"]
    assert peer == {"podSelector": {"matchLabels": {"app.kubernetes.io/name": NAME}}}
    assert rule["ports"] == [{"protocol": "TCP", "port": port}]


def test_argocd_api_account_is_token_only_and_read_only(tmp_root: str):
    objects = render_component("deploy/overlays/argocd-api-account", "argocd-install", tmp_root)
    argocd_cm = one(objects, "ConfigMap", "argocd-cm")["data"]
    assert argocd_cm[f"accounts.{ASSISTANT_ACCOUNT}"] == "apiKey", "API tokens only: no UI login"
    assert argocd_cm["url"] == "https://argocd.example.test", "the existing settings stay"
    rbac = one(objects, "ConfigMap", "argocd-rbac-cm")["data"]
    assert rbac["policy.csv"].startswith("g, platform-team, role:admin"), "the existing policy stays"
    lines = [line.strip() for key in rbac if re.fullmatch(r"policy\..+\.csv", key) for line in rbac[key].splitlines()]
    groups = [line for line in lines if line.startswith(f"g, {ASSISTANT_ACCOUNT},")]
    assert groups == [f"g, {ASSISTANT_ACCOUNT}, role:assistant-readonly"]
    policies = {tuple(part.strip() for part in line.split(",")) for line in lines
                if line.startswith("p, role:assistant-readonly,")}
    assert policies == {("p", "role:assistant-readonly", "applications", "get", "*/*", "allow"),
                        ("p", "role:assistant-readonly", "logs", "get", "*/*", "allow")}


# --- the back-end Deployment, Service and NetworkPolicy ---

BACKENDS = {
    "deploy/argocd/backend": ("argocd", "argocd-server"),
    "deploy/openshift-gitops/backend": ("openshift-gitops", "openshift-gitops-server"),
}


@pytest.mark.parametrize("directory", ["deploy/base", *BACKENDS])
def test_deployment_probes_resources_and_restricted_security(directory: str):
    objects = render(directory)
    deployment = one(objects, "Deployment", NAME)
    assert deployment["spec"]["replicas"] == 1
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["image"].startswith("ghcr.io/llama-stack-argocd/llama-stack-argocd:")
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"http": 8321}

    def probe(name: str) -> tuple[str, object]:
        get = container[name]["httpGet"]
        return get["path"], ports.get(get["port"], get["port"])

    assert probe("livenessProbe") == ("/liveness", 8321)
    assert probe("readinessProbe") == ("/readiness", 8321)
    assert probe("startupProbe")[1] == 8321 and probe("startupProbe")[0] in ("/liveness", "/v1/health")

    requests, limits = container["resources"]["requests"], container["resources"]["limits"]
    assert _mebibytes(requests["memory"]) >= 512 and _mebibytes(limits["memory"]) <= 1024
    assert _mebibytes(requests["memory"]) <= _mebibytes(limits["memory"])

    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    context = container["securityContext"]
    assert context["allowPrivilegeEscalation"] is False
    assert context["readOnlyRootFilesystem"] is True
    assert context["capabilities"] == {"drop": ["ALL"]}
    assert context["seccompProfile"] == {"type": "RuntimeDefault"}
    assert not context.get("privileged")
    # No fixed UID/GID: the image's numeric USER satisfies runAsNonRoot, and OpenShift may pick any UID.
    for where in (pod["securityContext"], context):
        assert not {"runAsUser", "runAsGroup", "fsGroup"} & set(where), where
    assert not pod.get("hostNetwork") and not pod.get("hostPID") and not pod.get("hostIPC")
    assert not [v for v in pod["volumes"] if "hostPath" in v]


@pytest.mark.parametrize("directory", ["deploy/base", *BACKENDS])
def test_writable_paths_are_empty_dirs_and_the_proxy_secret_is_a_mounted_file(directory: str):
    deployment = one(render(directory), "Deployment", NAME)
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    mounts = {m["mountPath"]: volumes[m["name"]] for m in container["volumeMounts"]}
    state = env["SQLITE_STORE_DIR"]
    assert env["HOME"] == state, "llama-stack writes ~/.llama: HOME must be in the one writable directory"
    assert "emptyDir" in mounts[state] and "emptyDir" in mounts["/tmp"]
    secret_file = env["ARGOCD_ASSISTANT_PROXY_SECRET_FILE"]
    assert "ARGOCD_ASSISTANT_PROXY_SECRET" not in env, "the secret comes from a file, not a literal"
    secret_dir = str(Path(secret_file).parent)
    assert mounts[secret_dir]["secret"]["secretName"] == PROXY_SECRET
    assert next(m for m in container["volumeMounts"] if m["mountPath"] == secret_dir)["readOnly"] is True
    assert pod["serviceAccountName"] == NAME and pod.get("automountServiceAccountToken", True)


@pytest.mark.parametrize("directory", ["deploy/base", *BACKENDS])
def test_service_is_cluster_ip_on_8321_and_selects_the_pods(directory: str):
    objects = render(directory)
    service = one(objects, "Service", NAME)
    labels = one(objects, "Deployment", NAME)["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["type"] == "ClusterIP"
    (port,) = service["spec"]["ports"]
    assert port["port"] == 8321 and port["targetPort"] in ("http", 8321)
    assert service["spec"]["selector"].items() <= labels.items()


@pytest.mark.parametrize("directory", list(BACKENDS))
def test_network_policy_admits_only_argocd_server_on_8321(directory: str):
    namespace, server_label = BACKENDS[directory]
    objects = render(directory)
    policy = one(objects, "NetworkPolicy")
    labels = one(objects, "Deployment", NAME)["spec"]["template"]["metadata"]["labels"]
    assert policy["spec"]["podSelector"]["matchLabels"].items() <= labels.items()
    assert policy["spec"]["policyTypes"] == ["Ingress"]
    (rule,) = policy["spec"]["ingress"]
    (peer,) = rule["from"]
    assert peer == {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": namespace}},
        "podSelector": {"matchLabels": {"app.kubernetes.io/name": server_label}},
    }
    assert rule["ports"] == [{"port": 8321, "protocol": "TCP"}]


@pytest.mark.parametrize("directory", list(BACKENDS))
def test_back_ends_are_namespaced_and_the_namespace_is_restricted(directory: str):
    objects = render(directory)
    namespace = one(objects, "Namespace")
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    for obj in objects:
        if obj["kind"] not in ("Namespace", "ClusterRole", "ClusterRoleBinding"):
            assert obj["metadata"]["namespace"] == namespace["metadata"]["name"], obj["metadata"]


def test_with_vllm_sets_the_url_and_keeps_the_token_optional(tmp_root: str):
    for label, *_ in COMPONENT_HOSTS["deploy/overlays/with-vllm"]:
        deployment = one(render_component("deploy/overlays/with-vllm", label, tmp_root), "Deployment", NAME)
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        env = {e["name"]: e for e in container["env"]}
        assert env["VLLM_URL"]["value"].startswith("http")
        assert env["VLLM_API_TOKEN"]["valueFrom"]["secretKeyRef"]["optional"] is True
        assert "ARGOCD_ASSISTANT_PROXY_SECRET_FILE" in env, "the patch adds variables, it does not replace them"


def test_scale_out_runs_two_replicas_on_the_postgres_distribution_with_credentials_from_a_secret(tmp_root: str):
    config_path = REPO / "distributions/argocd/scale-out.yaml"
    # Variables the distribution needs without a default (`${env.NAME}`), and every POSTGRES_* it reads.
    config_text = config_path.read_text()
    required = set(re.findall(r"\$\{env\.(\w+)\}", config_text))
    postgres = set(re.findall(r"\$\{env\.(POSTGRES_\w+)", config_text))
    assert {"POSTGRES_PASSWORD"} <= required
    for label, *_ in COMPONENT_HOSTS["deploy/overlays/scale-out"]:
        objects = render_component("deploy/overlays/scale-out", label, tmp_root)
        deployment = one(objects, "Deployment", NAME)
        assert deployment["spec"]["replicas"] == 2
        assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
        pod = deployment["spec"]["template"]
        (container,) = pod["spec"]["containers"]
        env = {e["name"]: e for e in container["env"]}
        # The image copies distributions/ to /app/distributions (containers/Containerfile).
        assert env["RUN_CONFIG_PATH"]["value"] == "/app/" + str(config_path.relative_to(REPO))
        assert "COPY distributions/ /app/distributions/" in (REPO / "containers/Containerfile").read_text()
        assert "ARGOCD_ASSISTANT_PROXY_SECRET_FILE" in env, "the proxy secret stays: scale-out keeps proxy-trust"
        for name in required - {"ARGOCD_ASSISTANT_PROXY_SECRET_FILE"}:
            assert name in env, f"{label}: {name} is required by the distribution and not set"
        for name in postgres - {"POSTGRES_POOL_SIZE", "POSTGRES_MAX_OVERFLOW"}:
            reference = env[name]["valueFrom"]["secretKeyRef"]
            assert reference["name"] == "llama-stack-argocd-postgres" and not reference.get("optional"), name
            assert "value" not in env[name], f"{name} comes from the Secret, never a literal"
        budget = one(objects, "PodDisruptionBudget")
        assert budget["metadata"]["namespace"] == deployment["metadata"]["namespace"]
        assert budget["spec"]["selector"]["matchLabels"].items() <= pod["metadata"]["labels"].items()
        assert 1 <= budget["spec"]["minAvailable"] < deployment["spec"]["replicas"]
        assert one(objects, "NetworkPolicy")["spec"]["policyTypes"] == ["Ingress"], "egress to the database stays open"


# --- Argo CD wiring ---


def _service_url(backend_dir: str) -> str:
    service = one(render(backend_dir), "Service", NAME)
    port = service["spec"]["ports"][0]["port"]
    return f"http://{service['metadata']['name']}.{service['metadata']['namespace']}.svc.cluster.local:{port}"


def _check_extension_config(text: str, backend_dir: str) -> None:
    config = yaml.safe_load(text)
    assert config["connectionTimeout"] == "2s"
    assert config["keepAlive"] == "360s" and config["idleConnectionTimeout"] == "360s"
    (service,) = config["services"]
    assert service["url"] == _service_url(backend_dir)
    assert service["headers"] == [{"name": "Authorization", "value": "$assistant.proxy.secret"}]


def _check_installer_and_settings(init_containers, mounts, volumes, settings_map, namespace) -> None:
    (installer,) = [c for c in init_containers if c["image"].startswith(INSTALLER)]
    env = {e["name"]: e["value"] for e in installer["env"]}
    assert re.fullmatch(
        r"https://github\.com/argoproj-labs/assistant-for-argocd/releases/download/v[\d.]+/extension-assistant-[\d.]+\.tar",
        env["EXTENSION_URL"],
    )
    assert installer["securityContext"]["allowPrivilegeEscalation"] is False
    by_path = {m["mountPath"]: m for m in mounts}
    volumes = {v["name"]: v for v in volumes}
    assert [m["mountPath"] for m in installer["volumeMounts"]] == ["/tmp/extensions/"]
    shared = installer["volumeMounts"][0]["name"]
    assert by_path["/tmp/extensions/"]["name"] == shared and "emptyDir" in volumes[shared]
    settings = by_path[SETTINGS_PATH]
    assert re.fullmatch(r"extension.*\.js", Path(SETTINGS_PATH).name), "argocd-server serves only extension*.js"
    config_map = volumes[settings["name"]]["configMap"]["name"]
    assert config_map == settings_map["metadata"]["name"] and settings_map["metadata"]["namespace"] == namespace
    assert settings["subPath"] in settings_map["data"]


def test_plain_argocd_wiring(tmp_root: str):
    objects = render_component("deploy/argocd/wiring", "argocd-install", tmp_root)
    argocd_cm = one(objects, "ConfigMap", "argocd-cm")
    _check_extension_config(argocd_cm["data"][EXTENSION_CONFIG_KEY], "deploy/argocd/backend")
    assert argocd_cm["data"]["url"] == "https://argocd.example.test", "the existing settings stay"
    rbac = one(objects, "ConfigMap", "argocd-rbac-cm")["data"]
    assert rbac["policy.csv"].startswith("g, platform-team, role:admin"), "the existing policy stays"
    added = [key for key in rbac if re.fullmatch(r"policy\..+\.csv", key)]
    assert any(RBAC_LINE in rbac[key].splitlines() for key in added)
    assert one(objects, "ConfigMap", "argocd-cmd-params-cm")["data"]["server.enable.proxy.extension"] == "true"
    server = one(objects, "Deployment", "argocd-server")["spec"]["template"]["spec"]
    (container,) = [c for c in server["containers"] if c["name"] == "argocd-server"]
    assert {"tmp", "plugins-home"} <= {v["name"] for v in server["volumes"]}, "the install's volumes stay"
    _check_installer_and_settings(
        server["initContainers"],
        container["volumeMounts"],
        server["volumes"],
        one(objects, "ConfigMap", "argocd-assistant-settings"),
        "argocd",
    )
    installer = server["initContainers"][0]["securityContext"]
    assert installer["runAsNonRoot"] is True and installer["runAsUser"] > 0, "the installer image names no UID"


def test_openshift_gitops_wiring(tmp_root: str):
    objects = render_component("deploy/openshift-gitops/wiring", "argocd-cr", tmp_root)
    spec = one(objects, "ArgoCD", "openshift-gitops")["spec"]
    _check_extension_config(spec["extraConfig"][EXTENSION_CONFIG_KEY], "deploy/openshift-gitops/backend")
    policy = spec["rbac"]["policy"].splitlines()
    assert RBAC_LINE in policy and "g, system:cluster-admins, role:admin" in policy
    server = spec["server"]
    assert "--enable-proxy-extension" in server["extraCommandArgs"]
    assert server["route"]["annotations"]["haproxy.router.openshift.io/timeout"] == "360s"
    assert server["route"]["enabled"] is True
    _check_installer_and_settings(
        server["initContainers"],
        server["volumeMounts"],
        server["volumes"],
        one(objects, "ConfigMap", "argocd-assistant-settings"),
        "openshift-gitops",
    )
    for container in server["initContainers"]:
        assert "runAsUser" not in container.get("securityContext", {}), "OpenShift's SCC assigns the UID"


def test_the_settings_extension_is_valid_javascript_with_a_known_provider():
    settings = DEPLOY / "assistant-settings" / "extension-assistant-settings.js"
    node = shutil.which("node")
    if not node:
        pytest.skip("node is not installed: the settings file cannot be evaluated")
    script = (
        "const vm = require('vm'); const ctx = {};"
        f"vm.runInNewContext(require('fs').readFileSync({json.dumps(str(settings))}, 'utf8'), ctx);"
        "process.stdout.write(JSON.stringify(ctx.argocdAssistantSettings));"
    )
    run = subprocess.run([node, "-e", script], check=False, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    values = json.loads(run.stdout)
    assert values["provider"] in ("Llama-Stack", "Llama-Stack-V2", "Lightspeed")
    assert not {"apiKey", "token", "password"} & set(values), "the browser downloads this file"


# --- the README tells the steps these manifests depend on ---


def test_readme_documents_build_secret_and_verification():
    text = README.read_text()
    assert "podman build -f containers/Containerfile -t llama-stack-argocd ." in text
    assert "docker build -f containers/Containerfile -t llama-stack-argocd ." in text
    assert re.search(rf"create secret generic {PROXY_SECRET}\b.*--from-literal=secret=", text)
    assert "assistant.proxy.secret" in text and "Bearer " in text
    for directory, kind in CASES:
        if kind == "Kustomization" and directory != "deploy/base":
            assert directory in text, f"{directory} is not explained in deploy/README.md"


def _mebibytes(quantity: str) -> float:
    units = {"Ki": 1 / 1024, "Mi": 1, "Gi": 1024}
    match = re.fullmatch(r"(\d+(?:\.\d+)?)(Ki|Mi|Gi)", quantity)
    assert match, f"memory quantity {quantity} (use Ki, Mi or Gi)"
    return float(match.group(1)) * units[match.group(2)]
