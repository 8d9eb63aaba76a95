"""A log's decisive lines reach the findings (and so the diagnosis block): the innermost cause of each kind of trace,
the message of a structured line, the last words of a crash that logged no error; a crashed instance's log ranks
right after the crash it explains."""

from __future__ import annotations

import json

from llama_stack_argocd.context.digest import build_context
from llama_stack_argocd.context.findings import Severity, analyze
from llama_stack_argocd.context.logs import cause_lines, distinct_records

NOISE = [f"2024-11-05 09:00:{i % 60:02d} INFO GET /healthz 200 {i % 7}ms" for i in range(400)]


def test_each_trace_is_quoted_by_its_innermost_cause():
    java = ["2024-11-05 09:14:51 ERROR 1 --- [main] HikariPool : Exception during pool initialization.",
            "org.postgresql.util.PSQLException: FATAL: password authentication failed for user \"orders\"",
            "\tat org.postgresql.core.v3.ConnectionFactoryImpl.doAuthentication(ConnectionFactoryImpl.java:693)"]
    assert cause_lines(java)[1].startswith("org.postgresql.util.PSQLException: FATAL: password authentication")
    chained = [*java[:1], "java.lang.IllegalStateException: context failed", "\tat a.B.c(B.java:1)",
               "Caused by: java.net.ConnectException: Connection refused", "\tat d.E.f(E.java:2)",
               "Caused by: java.net.UnknownHostException: db.shop: Name or service not known", "\t... 12 more"]
    assert cause_lines(chained)[-1] == "Caused by: java.net.UnknownHostException: db.shop: Name or service not known"
    python = ["Traceback (most recent call last):", '  File "/app/worker.py", line 12, in <module>',
              "    url = os.environ['REDIS_URL']", "KeyError: 'REDIS_URL'"]
    assert cause_lines(python) == ["KeyError: 'REDIS_URL'"]
    go = ["panic: runtime error: invalid memory address or nil pointer dereference", "",
          "goroutine 1 [running]:", "panic({0x9c4e3a?, 0x18?})", "\t/usr/local/go/src/runtime/panic.go:770 +0x132",
          "main.(*Quoter).Quote(0xc0004a2f00)", "\t/src/internal/shipping/quote.go:57 +0x3a"]
    assert cause_lines(go) == [go[0], "/src/internal/shipping/quote.go:57 +0x3a"]


def test_a_structured_line_is_quoted_by_its_message_and_error():
    line = json.dumps({"level": 50, "time": 1730799500123, "pid": 1, "hostname": "sessions-8c9d0e1f2-hh7kd",
                       "err": {"type": "Error", "message": "connect ECONNREFUSED 10.96.200.14:6379",
                               "stack": "Error: connect ECONNREFUSED 10.96.200.14:6379\n    at TCPConnectWrap"},
                       "msg": "redis connection lost"})
    assert cause_lines([line]) == ["redis connection lost: connect ECONNREFUSED 10.96.200.14:6379"]
    assert cause_lines(['{"not": "a log record"}']) == ['{"not": "a log record"}']


def _log(lines: list[str], pod: str) -> list[dict]:
    return [{"result": {"content": text, "podName": pod}} for text in lines]


def test_the_errors_of_a_long_log_are_quoted_most_recent_first():
    lines = [*NOISE[:200], "2024-11-05 09:10:00 ERROR cache warm-up failed: timeout after 5s", *NOISE[200:],
             "2024-11-05 09:20:00 ERROR could not open /data/db: permission denied", *NOISE[:3]]
    findings = [f for f in analyze([], distinct_records(_log(lines, "api-7d9f8-x2k4q/api"))) if f.code == "LogErrors"]
    assert len(findings) == 1 and findings[0].severity is Severity.ERROR
    assert findings[0].evidence[:2] == [lines[-4], lines[200]]


def test_a_crashed_instances_log_explains_the_crash_right_after_it():
    crashed = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "api-7d9f8-x2k4q", "namespace": "shop"},
               "spec": {"containers": [{"name": "api", "image": "api:1"}]},
               "status": {"phase": "Running", "containerStatuses": [{
                   "name": "api", "ready": False, "restartCount": 7,
                   "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                   "lastState": {"terminated": {"exitCode": 1, "reason": "Error"}}}]}}
    last_words = "listen tcp :8080: bind: address already in use"  # no level word: the last words are quoted
    digest = build_context(manifest=crashed, logs=_log(["starting api v1.4.2", last_words],
                                                       "api-7d9f8-x2k4q/api (previous instance)"))
    codes = [f.code for f in digest.findings]
    assert codes[:2] == ["CrashLoopBackOff", "LogErrors"], codes
    quoted = digest.findings[1]
    assert quoted.severity is Severity.CRITICAL and quoted.evidence == [last_words]
    assert quoted.resource == "Pod shop/api-7d9f8-x2k4q" and "previous log" in quoted.title


def test_numeric_levels_of_pino_and_bunyan_are_read():
    from llama_stack_argocd.context.logs import ERROR, FATAL, INFO, WARN, level_of

    levels = [level_of(json.dumps({"level": n, "msg": "a plain message"})) for n in (30, 40, 50, 60)]
    assert levels == [INFO, WARN, ERROR, FATAL]


def _pod_with(container: dict, pod_security: dict | None = None) -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "api-7d9f8-x2k4q", "namespace": "shop",
                                                            "labels": {"app": "api"}},
            "spec": {"containers": [container], **({"securityContext": pod_security} if pod_security else {})},
            "status": {"phase": "Running"}}


def test_a_permission_error_is_quoted_with_the_security_context_it_meets():
    pod = _pod_with({"name": "api", "securityContext": {"readOnlyRootFilesystem": True}}, {"runAsUser": 101})
    line = "2024-11-05 09:20:00 ERROR OSError: [Errno 30] Read-only file system: '/app/.cache'"
    found = next(f for f in analyze([pod], distinct_records(_log([line], "api-7d9f8-x2k4q/api")))
                 if f.code == "LogErrors")
    assert "readOnlyRootFilesystem: true" in found.evidence and "runAsUser: 101" in found.evidence


def test_a_failed_connection_is_quoted_with_the_variables_that_name_its_target():
    env = [{"name": "DB_PORT", "value": "5433"}, {"name": "CACHE_URL", "value": "redis://cache:6379"},
           {"name": "HTTP_PORT", "value": "8080"}, {"name": "REPLICA_PORT", "value": "54330"}]
    deployment = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "api", "namespace": "shop"},
                  "spec": {"selector": {"matchLabels": {"app": "api"}},
                           "template": {"spec": {"containers": [{"name": "api", "env": env}]}}}}
    pod = _pod_with({"name": "api"})  # the Pod as a summary shows it: the template holds the variables
    lines = ["2024-11-05 09:20:00 ERROR db pool error: connect ECONNREFUSED 10.96.50.5:5433",
             "2024-11-05 09:20:01 ERROR cache: dial tcp: lookup cache on 10.96.0.10:53: no such host"]
    found = next(f for f in analyze([pod, deployment], distinct_records(_log(lines, "api-7d9f8-x2k4q/api")))
                 if f.code == "LogErrors")
    assert {"DB_PORT=5433", "CACHE_URL=redis://cache:6379"} <= set(found.evidence)
    assert not {"HTTP_PORT=8080", "REPLICA_PORT=54330"} & set(found.evidence)


def test_a_trace_is_quoted_before_the_lone_error_lines_that_came_after_it():
    trace = ["2024-11-05 09:02:10 ERROR [main] o.s.boot.SpringApplication : Application run failed",
             "org.springframework.beans.factory.BeanCreationException: Error creating bean 'ledger'",
             "\tat org.springframework.beans.factory.support.AbstractBeanFactory.getBean(AbstractBeanFactory.java:208)",
             "Caused by: java.io.FileNotFoundException: /etc/ledger/keys.pem (No such file or directory)",
             "\t... 31 more"]
    retries = [f"2024-11-05 09:1{i}:00 ERROR [sched-1] c.a.Exporter : export failed, will retry" for i in range(4)]
    lines = [*NOISE[:100], *trace, *NOISE[100:300], *retries]
    found = next(f for f in analyze([], distinct_records(_log(lines, "ledger-5b6c7-q9w8e/ledger")))
                 if f.code == "LogErrors")
    assert found.evidence[:2] == [trace[0], trace[3]], found.evidence
    assert "traces first" in found.detail


def test_a_nodejs_error_is_quoted_with_its_code():
    lines = [*NOISE[:50], "node:internal/process/esm_loader:40",
             "      internalBinding('errors').triggerUncaughtException(",
             "      ^", "", "Error [ERR_REQUIRE_ESM]: require() of ES Module /srv/lib/chalk.js not supported.",
             "    at Object.<anonymous> (/srv/index.js:3:15)", "    at node:internal/main/run_main_module:28:49 {",
             "  code: 'ERR_REQUIRE_ESM'", "}", "", "Node.js v20.11.1"]
    records = distinct_records(_log(lines, "gateway-1a2b3-c4d5e/gateway"))
    error = next(text for _, text in records if text.startswith("Error [ERR_REQUIRE_ESM]"))
    assert cause_lines(error.splitlines()) == [lines[54], "code: 'ERR_REQUIRE_ESM'"]
