"""Deterministic generators for the evaluation fixtures.

Large logs are not committed: a scenario names a profile, a seed and a length, and the one line that matters (the
"needle") with where it sits; `generate_log` rebuilds the same 12,000 lines on every run. `decorate` adds what a live
object carries and a model does not need (managedFields, the last-applied annotation, uid, resourceVersion...), so the
naive payload is as heavy as the extension's real one.
"""

from __future__ import annotations

import copy
import json
import random
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

START = datetime(2024, 11, 5, 9, 0, 0, tzinfo=UTC)

SKUS = ["SKU-RED-TSHIRT-M", "SKU-BLU-JEANS-32", "SKU-GRN-HOODIE-L", "SKU-BLK-SNEAKER-42", "SKU-WHT-CAP"]
PATHS = ["/api/orders", "/api/cart", "/api/products", "/api/customers", "/api/checkout/quote", "/api/search"]


def _uuid(rnd: random.Random) -> str:
    return str(uuid.UUID(int=rnd.getrandbits(128), version=4))


def _ip(rnd: random.Random) -> str:
    return f"10.244.{rnd.randint(0, 3)}.{rnd.randint(2, 250)}"


# Each profile: (weight, line maker) pairs. A maker gets the random source and the line's timestamp.
Maker = Callable[[random.Random, datetime], str]


def _spring(level: str, thread: str, logger: str, msg: Callable[[random.Random], str]) -> Maker:
    def make(rnd: random.Random, t: datetime) -> str:
        ts = t.strftime("%Y-%m-%d %H:%M:%S.") + f"{t.microsecond // 1000:03d}"
        th = thread.format(n=rnd.randint(1, 10))
        return f"{ts} {level:>5} 1 --- [{th:>15}] {logger:<40} : {msg(rnd)}"
    return make


SPRING: list[tuple[float, Maker]] = [
    (30, _spring("INFO", "nio-8080-exec-{n}", "c.a.orders.web.OrderController",
                 lambda r: f"GET {r.choice(PATHS)}/{r.randint(1000, 99999)} completed in {r.randint(2, 180)} ms")),
    (15, _spring("DEBUG", "nio-8080-exec-{n}", "org.hibernate.SQL",
                 lambda r: "select o1_0.id,o1_0.customer_id,o1_0.status,o1_0.total from orders o1_0 where o1_0.id=?")),
    (15, _spring("INFO", "ntainer#0-0-C-1", "c.a.orders.kafka.OrderEventsListener",
                 lambda r: f"Consumed OrderCreated key={_uuid(r)} partition={r.randint(0, 11)} "
                           f"offset={r.randint(10**5, 10**7)}")),
    (10, _spring("INFO", "nio-8080-exec-{n}", "c.a.orders.web.HealthController",
                 lambda r: "GET /actuator/health/liveness 200 UP")),
    (6, _spring("WARN", "nio-8080-exec-{n}", "c.a.orders.client.InventoryClient",
                lambda r: f"Inventory lookup for {r.choice(SKUS)} took {r.randint(501, 2400)} ms (threshold 500 ms)")),
    (4, _spring("INFO", "   scheduling-1", "c.a.orders.jobs.CartCleanup",
                lambda r: f"Removed {r.randint(0, 300)} expired carts")),
    (0.3, _spring("ERROR", "  metrics-pub-1", "c.a.orders.metrics.StatsdReporter",
                  lambda r: "Failed to send metrics batch: java.net.SocketTimeoutException: Read timed out")),
    (0.2, _spring("WARN", "l-1 housekeeper", "com.zaxxer.hikari.pool.HikariPool",
                  lambda r: f"HikariPool-1 - Thread starvation or clock leap detected (housekeeper delta="
                            f"{r.randint(1, 59)}s{r.randint(1, 999)}ms).")),
]


def _zap(level: str, caller: str, msg: str, extra: Callable[[random.Random], dict[str, Any]]) -> Maker:
    def make(rnd: random.Random, t: datetime) -> str:
        rec = {"level": level, "ts": round(t.timestamp(), 3), "caller": caller, "msg": msg, **extra(rnd)}
        return json.dumps(rec, separators=(",", ":"))
    return make


GO: list[tuple[float, Maker]] = [
    (40, _zap("info", "http/server.go:88", "request completed",
              lambda r: {"method": r.choice(["GET", "GET", "POST"]), "path": f"/v1/carts/{r.randint(1, 99999)}",
                         "status": 200, "latency": f"{r.randint(1, 90)}.{r.randint(0, 9)}ms",
                         "request_id": _uuid(r)})),
    (20, _zap("debug", "cache/redis.go:141", "cache hit",
              lambda r: {"key": f"cart:{r.randint(1, 99999)}", "ttl": r.randint(1, 3600)})),
    (10, _zap("info", "http/server.go:88", "request completed",
              lambda r: {"method": "GET", "path": "/healthz", "status": 200, "latency": f"0.{r.randint(1, 9)}ms"})),
    (5, _zap("warn", "pricing/client.go:57", "pricing call slow",
             lambda r: {"sku": r.choice(SKUS), "elapsed": f"{r.randint(300, 2000)}ms"})),
    (3, _zap("info", "worker/sync.go:32", "synced carts", lambda r: {"count": r.randint(0, 500)})),
    (0.3, _zap("error", "events/publisher.go:77", "publish failed, will retry",
               lambda r: {"error": "nats: timeout", "subject": "carts.updated"})),
]


def _gunicorn(rnd: random.Random, t: datetime) -> str:
    path = rnd.choice(["/api/v1/items/", "/api/v1/items/?page=" + str(rnd.randint(1, 40)), "/healthz",
                       f"/api/v1/orders/{rnd.randint(1, 9999)}/"])
    agent = "kube-probe/1.29" if path == "/healthz" else "python-requests/2.32.3"
    return (f'{_ip(rnd)} - - [{t.strftime("%d/%b/%Y:%H:%M:%S +0000")}] "GET {path} HTTP/1.1" 200 '
            f'{rnd.randint(20, 9000)} "-" "{agent}"')


def _celery(rnd: random.Random, t: datetime) -> str:
    ts = t.strftime("%Y-%m-%d %H:%M:%S,") + f"{t.microsecond // 1000:03d}"
    task = rnd.choice(["app.tasks.sync_inventory", "app.tasks.send_receipt", "app.tasks.rebuild_search_index"])
    return (f"[{ts}: INFO/ForkPoolWorker-{rnd.randint(1, 4)}] Task {task}[{_uuid(rnd)}] succeeded in "
            f"{rnd.random() * 3:.3f}s: None")


def _django_warn(rnd: random.Random, t: datetime) -> str:
    ts = t.strftime("%Y-%m-%d %H:%M:%S,") + f"{t.microsecond // 1000:03d}"
    return f"[{ts}: WARNING/MainProcess] app.search: slow query ({rnd.randint(800, 4000)} ms) on items_index"


PYTHON: list[tuple[float, Maker]] = [(55, _gunicorn), (35, _celery), (4, _django_warn)]


def _pino(level: int, msg: str, extra: Callable[[random.Random], dict[str, Any]]) -> Maker:
    def make(rnd: random.Random, t: datetime) -> str:
        rec = {"level": level, "time": int(t.timestamp() * 1000), "pid": 1, "hostname": "web-6d8f7c9b4-q7xkp",
               **extra(rnd), "msg": msg}
        return json.dumps(rec, separators=(",", ":"))
    return make


NODE: list[tuple[float, Maker]] = [
    (50, _pino(30, "request completed",
               lambda r: {"reqId": r.randint(1, 10**6), "req": {"method": "GET", "url": r.choice(PATHS)},
                          "res": {"statusCode": 200}, "responseTime": r.randint(1, 200)})),
    (20, _pino(20, "session refreshed", lambda r: {"sessionId": _uuid(r)})),
    (10, _pino(30, "request completed",
               lambda r: {"reqId": r.randint(1, 10**6), "req": {"method": "GET", "url": "/readyz"},
                          "res": {"statusCode": 200}, "responseTime": 1})),
    (4, _pino(40, "upstream slow", lambda r: {"upstream": "recommendations", "ms": r.randint(500, 3000)})),
]


def _nginx(rnd: random.Random, t: datetime) -> str:
    asset = rnd.choice(["/", "/static/app.3f9a1c.js", "/static/app.9c1e2b.css", "/img/logo.svg", "/favicon.ico"])
    code = 200 if rnd.random() > 0.03 else 304
    return (f'{_ip(rnd)} - - [{t.strftime("%d/%b/%Y:%H:%M:%S +0000")}] "GET {asset} HTTP/1.1" {code} '
            f'{rnd.randint(200, 90000)} "https://shop.example.com/" "Mozilla/5.0 (X11; Linux x86_64)" '
            f'{rnd.random() / 50:.3f}')


NGINX: list[tuple[float, Maker]] = [(1, _nginx)]


def _pg(level: str, msg: Callable[[random.Random], str]) -> Maker:
    def make(rnd: random.Random, t: datetime) -> str:
        return f"{t.strftime('%Y-%m-%d %H:%M:%S.')}{t.microsecond // 1000:03d} UTC [{rnd.randint(60, 900)}] " \
               f"{level}:  {msg(rnd)}"
    return make


POSTGRES: list[tuple[float, Maker]] = [
    (30, _pg("LOG", lambda r: f"checkpoint complete: wrote {r.randint(1, 900)} buffers ({r.random():.1f}%); "
                              f"0 WAL file(s) added, 0 removed, 1 recycled")),
    (30, _pg("LOG", lambda r: "checkpoint starting: time")),
    (25, _pg("LOG", lambda r: "connection authorized: user=app database=orders application_name=PostgreSQL JDBC")),
    (5, _pg("LOG", lambda r: "automatic vacuum of table \"orders.public.order_items\": index scans: 1")),
]

PROFILES: dict[str, list[tuple[float, Maker]]] = {
    "spring": SPRING, "go": GO, "python": PYTHON, "node": NODE, "nginx": NGINX, "postgres": POSTGRES,
}


def generate_log(profile: str, seed: int, lines: int, needles: Sequence[Mapping[str, Any]] = (),
                 tail: Sequence[str] = (), head: Sequence[str] = (), step_ms: int = 180,
                 start: datetime = START) -> list[tuple[str, str]]:
    """(timestamp, line) pairs: `head`, then noise with each needle's lines at its fraction `at`, then `tail`.

    Needle and tail lines may hold `{ts}` (the line's time as `2024-11-05 09:00:00.000`) or `{iso}`.
    """
    rnd = random.Random(seed)
    makers = PROFILES[profile]
    weights = [w for w, _ in makers]
    at: dict[int, list[str]] = {}
    for needle in needles:
        text = needle["text"]
        at.setdefault(int(float(needle.get("at", 0.5)) * lines), []).extend(
            text if isinstance(text, list) else str(text).splitlines())
    out: list[tuple[str, str]] = []
    t = start

    def emit(line: str) -> None:
        iso = t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"
        out.append((iso, line.replace("{ts}", t.strftime("%Y-%m-%d %H:%M:%S.") + f"{t.microsecond // 1000:03d}")
                    .replace("{iso}", iso)))

    for line in head:
        emit(line)
        t += timedelta(milliseconds=step_ms)
    for i in range(lines):
        for line in at.get(i, []):
            emit(line)
        maker = rnd.choices(makers, weights)[0][1]
        t += timedelta(milliseconds=rnd.randint(1, 2 * step_ms))
        iso = t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"
        out.append((iso, maker(rnd, t)))
    for line in tail:
        t += timedelta(milliseconds=rnd.randint(1, step_ms))
        emit(line)
    return out


def extension_log_entries(lines: Sequence[tuple[str, str]], pod: str) -> list[dict[str, Any]]:
    """The extension's log attachment items: Argo CD's stream messages, still wrapped in `result`."""
    return [{"result": {"content": line, "timeStamp": ts or START.strftime("%Y-%m-%dT%H:%M:%SZ"),
                        "timeStampStr": ts or START.strftime("%Y-%m-%dT%H:%M:%S.000Z"), "podName": pod,
                        "last": False}} for ts, line in lines]


# -- live-object noise ---------------------------------------------------------------------------------------------


def _fields(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {f"f:{k}": _fields(v) for k, v in value.items()}
    if isinstance(value, list):
        out: dict[str, Any] = {}
        for item in value:
            if isinstance(item, Mapping) and "name" in item:
                out[f'k:{{"name":"{item["name"]}"}}'] = {".": {}, **_fields(item)}
            elif isinstance(item, Mapping) and "type" in item:
                out[f'k:{{"type":"{item["type"]}"}}'] = {".": {}, **_fields(item)}
        return out
    return {}


def decorate(obj: Mapping[str, Any], seed: int) -> dict[str, Any]:
    """The object as the API server returns it: ids, versions, managedFields and the last-applied annotation."""
    rnd = random.Random(seed)
    out = copy.deepcopy(dict(obj))
    meta = out.setdefault("metadata", {})
    created = START - timedelta(days=rnd.randint(1, 90), seconds=rnd.randint(0, 86400))
    meta.setdefault("uid", _uuid(rnd))
    meta.setdefault("resourceVersion", str(rnd.randint(10**6, 9 * 10**7)))
    meta.setdefault("creationTimestamp", created.strftime("%Y-%m-%dT%H:%M:%SZ"))
    if out.get("kind") not in ("Pod", "Event"):
        meta.setdefault("generation", rnd.randint(1, 40))
    labels = meta.setdefault("labels", {})
    labels.setdefault("app.kubernetes.io/instance", "shop")
    annotations = meta.setdefault("annotations", {})
    applied = {k: v for k, v in out.items() if k not in ("status",)}
    applied_meta = {k: v for k, v in meta.items() if k in ("name", "namespace", "labels")}
    applied["metadata"] = applied_meta
    if out.get("kind") != "Pod":
        annotations["kubectl.kubernetes.io/last-applied-configuration"] = json.dumps(applied, sort_keys=True) + "\n"
    managed = [{
        "manager": "argocd-controller" if out.get("kind") != "Pod" else "kube-controller-manager",
        "operation": "Apply" if out.get("kind") != "Pod" else "Update",
        "apiVersion": out.get("apiVersion", "v1"),
        "time": created.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "fieldsType": "FieldsV1",
        "fieldsV1": _fields({"metadata": {"labels": labels}, "spec": out.get("spec") or {}}),
    }]
    if out.get("status"):
        managed.append({
            "manager": "kubelet" if out.get("kind") == "Pod" else "kube-controller-manager",
            "operation": "Update", "apiVersion": out.get("apiVersion", "v1"), "subresource": "status",
            "time": (START - timedelta(minutes=rnd.randint(1, 50))).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "fieldsType": "FieldsV1", "fieldsV1": _fields({"status": out["status"]}),
        })
    meta["managedFields"] = managed
    return out


def decorate_event(ev: Mapping[str, Any], seed: int, namespace: str = "shop") -> dict[str, Any]:
    """An Event as the API returns it, from the fields a scenario writes (reason, message, type, count, object)."""
    rnd = random.Random(seed)
    out = copy.deepcopy(dict(ev))
    io = out.setdefault("involvedObject", {})
    io.setdefault("namespace", namespace)
    io.setdefault("apiVersion", "v1")
    io.setdefault("uid", _uuid(rnd))
    io.setdefault("resourceVersion", str(rnd.randint(10**6, 9 * 10**7)))
    first = START - timedelta(minutes=rnd.randint(5, 120))
    last = START + timedelta(minutes=rnd.randint(0, 40))
    out.setdefault("apiVersion", "v1")
    out.setdefault("kind", "Event")
    out.setdefault("metadata", {"name": f"{io.get('name', 'x')}.{rnd.getrandbits(64):016x}",
                                "namespace": io["namespace"], "uid": _uuid(rnd),
                                "resourceVersion": str(rnd.randint(10**6, 9 * 10**7)),
                                "creationTimestamp": first.strftime("%Y-%m-%dT%H:%M:%SZ")})
    out.setdefault("type", "Normal")
    out.setdefault("count", 1)
    out.setdefault("firstTimestamp", first.strftime("%Y-%m-%dT%H:%M:%SZ"))
    out.setdefault("lastTimestamp", last.strftime("%Y-%m-%dT%H:%M:%SZ"))
    out.setdefault("source", {"component": "kubelet", "host": f"worker-{rnd.randint(1, 3)}"})
    out.setdefault("reportingComponent", out["source"].get("component", ""))
    out.setdefault("reportingInstance", out["source"].get("host", ""))
    return out
