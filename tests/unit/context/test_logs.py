"""Log compression keeps the evidence (errors, traces, the last words) and collapses the noise, within the budget."""

from __future__ import annotations

import json
import random

import pytest

from llama_stack_argocd.context.logs import (
    ERROR,
    FATAL,
    INFO,
    WARN,
    compress_logs,
    level_of,
    parse_logs,
    signature,
    to_records,
)
from llama_stack_argocd.context.tokens import count_tokens

NEEDLE = 'ERROR 1 --- [main] c.z.h.pool.HikariPool : FATAL: password authentication failed for user "orders"'


def noisy_log(n: int = 10_000, seed: int = 7, needle_at: float = 0.4, tail: tuple[str, ...] = ()) -> list[str]:
    rnd = random.Random(seed)
    lines = []
    for i in range(n):
        ts = f"2024-11-05 09:{i // 600 % 60:02d}:{i // 10 % 60:02d}.{i % 1000:03d}"
        r = rnd.random()
        if r < 0.55:
            lines.append(f"{ts}  INFO 1 --- [exec-{rnd.randint(1, 9)}] c.a.Api : "
                         f"GET /api/orders/{rnd.randint(1, 99999)} 200 {rnd.randint(1, 300)}ms "
                         f"id={rnd.getrandbits(64):016x}")
        elif r < 0.85:
            lines.append(f"{ts} DEBUG 1 --- [sched-1] c.a.Cache : refreshed {rnd.randint(1, 500)} entries from "
                         f"10.244.{rnd.randint(0, 3)}.{rnd.randint(2, 250)}:6379")
        else:
            lines.append(f"{ts}  WARN 1 --- [pool-2] c.a.Http : slow response from inventory: "
                         f"{rnd.randint(600, 5000)}ms")
        if i == int(n * needle_at):
            lines.append(f"{ts} {NEEDLE}")
    return lines + list(tail)


def as_extension_json(lines: list[str], pod: str = "orders-6f9c7d8b5-x2kqz") -> str:
    return json.dumps([{"result": {"content": line, "timeStamp": "2024-11-05T09:00:00Z", "podName": pod,
                                   "last": False}} for line in lines])


# -- parsing ---------------------------------------------------------------------------------------------------------


def test_parses_the_extension_attachment():
    raw = as_extension_json(["one", "two"]) [:-1] + ',{"result":{"content":"","podName":"p","last":true}}]'
    lines = parse_logs(raw)
    assert [ln.text for ln in lines] == ["one", "two"]
    assert lines[0].pod == "orders-6f9c7d8b5-x2kqz" and lines[0].timestamp == "2024-11-05T09:00:00Z"


def test_parses_the_argocd_stream_and_plain_text():
    stream = "\n".join(json.dumps({"result": {"content": c, "podName": "web-1", "timeStampStr": "t"}})
                       for c in ("a", "b"))
    assert [ln.text for ln in parse_logs(stream)] == ["a", "b"]
    assert [ln.text for ln in parse_logs("x\ny\n")] == ["x", "y"]
    assert [ln.text for ln in parse_logs('{"not": "a stream"}\nplain')] == ['{"not": "a stream"}', "plain"]
    assert parse_logs(None) == [] and parse_logs("") == []
    assert [ln.text for ln in parse_logs(b"bytes\nok")] == ["bytes", "ok"]


# -- levels and signatures -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("line", "level"), [
    ("2024-11-05 09:00:00.000  INFO 1 --- [main] App : started", INFO),
    ("2024-11-05 09:00:00.000 ERROR 1 --- [main] App : boom", ERROR),
    ('time="2024-11-05T09:00:00Z" level=warning msg="slow"', WARN),
    ('{"level":"error","msg":"publish failed"}', ERROR),
    ("E1105 09:00:00.000000       1 controller.go:114] sync failed", ERROR),
    ("F1105 09:00:00.000000       1 main.go:10] cannot start", FATAL),
    ("2024/11/05 09:00:00 [error] 29#29: *1 connect() failed (111: Connection refused)", ERROR),
    ("2024-11-05 09:00:00.123 UTC [1] PANIC:  could not locate a valid checkpoint record", FATAL),
    ("panic: runtime error: index out of range [3] with length 3", FATAL),
    ("java.lang.OutOfMemoryError: Java heap space", FATAL),
    ("Error: connect ECONNREFUSED 10.96.0.12:6379", ERROR),
    ('10.0.0.1 - - [05/Nov/2024:09:00:00 +0000] "GET /api HTTP/1.1" 502 157 "-" "curl/8.5"', ERROR),
    ("INFO worker done, OOMKilled earlier", WARN),
    ("listening on :8080", INFO),
])
def test_levels(line, level):
    assert level_of(line) == level


def test_near_duplicates_share_a_signature():
    a = "2024-11-05T09:00:01.123Z INFO req 4c1de4f8-3196-4396-ba9f-be54f06907f5 from 10.244.1.7:53412 took 12ms"
    b = "2024-11-05T09:07:44.001Z INFO req 0fa60a77-d8c0-46eb-ac2f-41f47a9c9a7b from 10.244.3.9:40001 took 340ms"
    assert signature(a) == signature(b)
    assert signature("GET /api/orders/1 200") != signature("GET /api/cart/1 200")
    assert signature("pod web-5c7f9d6b8-hlqxz ready") == signature("pod web-84d6b7c5f-abcde ready")


# -- stack traces are records --------------------------------------------------------------------------------------

JAVA = ["2024-11-05 ERROR main App : start failed",
        "org.postgresql.util.PSQLException: FATAL: password authentication failed",
        *[f"\tat org.postgresql.core.Frame{i}.call(Frame.java:{i})" for i in range(40)],
        "Caused by: java.net.SocketException: Connection reset",
        *[f"\tat java.net.Socket{i}.read(Socket.java:{i})" for i in range(20)],
        "\t... 45 more",
        "2024-11-05 INFO main App : shutting down"]
PYTHON = ["Traceback (most recent call last):",
          '  File "/app/main.py", line 88, in <module>',
          "    main()",
          '  File "/app/main.py", line 71, in main',
          '    dsn = os.environ["WAREHOUSE_DSN"]',
          "KeyError: 'WAREHOUSE_DSN'",
          "next line"]
GO = ["panic: runtime error: invalid memory address or nil pointer dereference",
      "[signal SIGSEGV: segmentation violation code=0x1 addr=0x18 pc=0x9c4e3a]",
      "",
      "goroutine 7 [running]:",
      "github.com/acme/cart/internal/shipping.(*Quoter).Quote(0xc0004a2f00)",
      "\t/src/internal/shipping/quote.go:57 +0x3a",
      "main.main()",
      "\t/src/main.go:12 +0x1d",
      "exit status 2",
      "restarting"]


# the Java trace's block includes the log line that announced it ("start failed"): one record, message plus trace
@pytest.mark.parametrize(("lines", "block"), [(JAVA, 64), (PYTHON, 6), (GO, 9)])
def test_traces_are_one_record(lines, block):
    records = to_records(parse_logs("\n".join(lines)))
    trace = next(r for r in records if r.trace)
    assert len(trace.lines) == block


def test_a_long_java_trace_is_trimmed_but_keeps_its_causes():
    out = compress_logs("\n".join(JAVA), 2000).text
    assert "PSQLException: FATAL: password authentication failed" in out
    assert "Caused by: java.net.SocketException: Connection reset" in out
    assert "frames omitted ...]" in out
    assert "Frame30" not in out


def test_a_python_trace_keeps_its_last_line_even_when_tight():
    text = "\n".join(noisy_log(3000, needle_at=2.0) + PYTHON[:-1] + noisy_log(3000, seed=8, needle_at=2.0))
    out = compress_logs(text, 400).text
    assert "KeyError: 'WAREHOUSE_DSN'" in out


# -- the budget and what is kept -------------------------------------------------------------------------------------


def test_the_buried_error_survives_a_small_budget():
    lines = noisy_log(12_000)
    assert not any(NEEDLE in line for line in lines[-250:])  # what the extension would attach misses it
    for budget in (300, 1000, 4000):
        out = compress_logs(as_extension_json(lines), budget)
        assert out.tokens <= budget
        assert NEEDLE in out.text
        assert out.total_lines == len(lines)


def test_repeats_are_collapsed_with_counts():
    lines = ["2024-11-05T09:00:%02dZ GET /healthz 200 %dms" % (i % 60, i % 9) for i in range(5000)]
    out = compress_logs("\n".join(lines), 500)
    assert "[x5,000" in out.text
    assert out.distinct == 1
    assert out.shown_lines == 5000 and out.omitted_lines == 0
    assert not out.truncated


def test_last_lines_and_warnings_are_kept_and_gaps_are_marked():
    lines = noisy_log(6000, tail=("2024-11-05 10:00:00.000  INFO 1 --- [main] App : received SIGTERM, exiting",))
    out = compress_logs("\n".join(lines), 250)
    assert "received SIGTERM, exiting" in out.text
    assert NEEDLE in out.text
    assert "lines omitted ...]" in out.text
    assert out.truncated
    assert out.shown_lines + out.omitted_lines == out.total_lines
    roomier = compress_logs("\n".join(lines), 500)
    assert "slow response from inventory" in roomier.text and "[x" in roomier.text


def test_lines_before_a_fatal_record_are_kept():
    lines = noisy_log(4000, needle_at=2.0)
    lines[2000:2000] = ["2024-11-05 09:20:00.000  INFO 1 --- [main] Db : opening WAL segment 000000010000000000000003",
                        "2024-11-05 09:20:00.001 FATAL 1 --- [main] Db : corrupt WAL segment"]
    out = compress_logs("\n".join(lines), 500).text
    assert "opening WAL segment 000000010000000000000003" in out
    assert "corrupt WAL segment" in out


@pytest.mark.parametrize("budget", [0, 5, 40, 120, 777, 3000])
def test_never_over_budget(budget):
    out = compress_logs("\n".join(noisy_log(2000) + JAVA + PYTHON + GO), budget)
    assert out.tokens <= budget
    assert count_tokens(out.text) == out.tokens


def test_several_pods_are_prefixed():
    raw = json.dumps([{"result": {"content": f"ERROR boom {i}", "podName": f"web-{i % 2}"}} for i in range(4)])
    out = compress_logs(raw, 500).text
    assert "[web-0] ERROR boom" in out and "[web-1] ERROR boom" in out


def test_empty_input():
    out = compress_logs("", 100)
    assert out.empty and out.text == "" and not out.truncated


def test_a_very_long_line_is_clipped():
    out = compress_logs("ERROR " + "x" * 50_000, 3000)
    assert out.tokens <= 3000
    assert "characters omitted ...]" in out.text or "[...]" in out.text


def test_twelve_thousand_lines_compress_within_the_budget():
    """Its speed is measured by `make bench` (log compression), never here."""
    out = compress_logs(as_extension_json(noisy_log(12_000, seed=99)), 2000)
    assert out.total_lines == 12_001 and 0 < out.tokens <= 2000  # the lines and the needle, collapsed into the budget
    assert NEEDLE in out.text


@pytest.mark.parametrize("trace", [
    ["java.net.ConnectException: Connection refused", "\tat java.base/sun.nio.ch.Net.connect0(Native Method)",
     "\tat java.base/sun.nio.ch.Net.connect(Net.java:579)"],
    ["Traceback (most recent call last):", '  File "/app/health.py", line 12, in check', "    conn.ping()",
     "redis.exceptions.ConnectionError: Error 111 connecting to redis:6379. Connection refused."],
    ["Error: connect ECONNREFUSED 10.96.4.12:6379",
     "    at TCPConnectWrap.afterConnect [as oncomplete] (node:net:1555:16)"],
])
def test_a_message_and_the_trace_below_it_are_one_record(trace):
    message = "2024-11-05 09:00:01.000  WARN 1 --- [main] c.a.Health : health check failed for inventory"
    noise = [f"2024-11-05 09:00:0{i}.000  INFO 1 --- [main] c.a.Web : GET /x 200" for i in range(2, 9)]
    records = to_records(parse_logs("\n".join([message, *trace, *noise])))
    assert [ln.text for ln in records[0].lines] == [message, *trace] and records[0].trace
    out = compress_logs("\n".join([message, *trace, *noise * 300]), 400).text
    assert "health check failed for inventory" in out and trace[-1].strip() in out


def test_a_repeated_message_keeps_its_distinct_numbers():
    noise = [f"2024-11-05 09:{i // 60:02d}:{i % 60:02d}.000  INFO 1 --- [main] c.a.Web : GET /x completed in {i} ms"
             for i in range(2000)]
    for n, (line, col) in enumerate([(12, 7), (40, 3), (12, 7)]):
        noise.insert(300 + n * 500, f"2024-11-05 09:00:0{n}.000 ERROR 1 --- [main] c.a.Cfg : cannot parse "
                                    f"values.yaml: mapping values are not allowed at line {line}, column {col}")
    out = compress_logs("\n".join(noise), 300).text
    assert "line 12, column 7" in out and "line 40, column 3" in out
    assert "completed in" in out and "also: in" not in out  # durations are not facts
    many = [f"2024-11-05 09:00:00.000 ERROR 1 --- [main] c.a.Db : connect to db:{5000 + i} refused" for i in range(30)]
    text = compress_logs("\n".join(many), 300).text
    assert "db:5029" in text and "db:5000" in text and "28 more distinct values" in text


def test_lines_that_support_a_cause_are_pulled_whatever_their_level():
    import re

    def word(i: int) -> str:
        return "".join(chr(97 + (i // 26 ** k) % 26) for k in range(3))

    lines = [f"2024-11-05 09:00:00.{i % 1000:03d}  INFO 1 --- [main] c.a.Web : GET /api/{word(i)} completed"
             for i in range(6000)]
    lines.insert(3000, "[gc] GC(412) Pause Full (G1 Compaction Pause) 3890M->3850M(4096M) 8123.456ms")
    assert "Pause Full" not in compress_logs("\n".join(lines), 400).text
    pulled = compress_logs("\n".join(lines), 400, pull=[re.compile(r"pause full", re.IGNORECASE)]).text
    assert "Pause Full (G1 Compaction Pause) 3890M->3850M(4096M) 8123.456ms" in pulled


def test_scan_back_keeps_the_last_lines_and_the_earlier_errors_with_their_trace():
    from llama_stack_argocd.context.logs import scan_back

    noise = [f"2026-03-01T10:{i // 60 % 60:02d}:{i % 60:02d}Z INFO served /metrics in {i % 7}ms" for i in range(3000)]
    trace = ["2026-03-01T10:20:00Z ERROR payment worker crashed: card vault unreachable",
             "goroutine 12 [running]:", "main.(*Vault).Charge(0xc000120000)", "\t/src/vault.go:88 +0x1d"]
    lines = noise[:1200] + trace + noise[1200:]
    out = scan_back("\n".join(lines) + "\n", keep_last=50, max_kept=20).splitlines()
    assert out[:4] == trace  # the error and its trace, though 1,850 lines before the tail
    assert out[-50:] == noise[-50:] and len(out) == 4 + 1 + 50
    assert "2,950 earlier lines omitted" in out[4]
    assert scan_back("a\nb\n", keep_last=5, max_kept=5) == "a\nb\n"  # short logs are left alone
    many = "\n".join(f"ERROR attempt {i} failed" for i in range(500)) + "\nINFO done"
    assert len(scan_back(many, keep_last=1, max_kept=10).splitlines()) == 10 + 1 + 1  # bounded: newest 10


def test_scan_back_prefers_an_old_error_to_newer_warnings():
    from llama_stack_argocd.context.logs import scan_back

    lines = ["2026-03-01T09:00:00Z ERROR ledger: checksum mismatch in segment 7"]
    lines += [f"2026-03-01T09:{i // 60 % 60:02d}:{i % 60:02d}Z WARN slow query took {900 + i}ms" for i in range(400)]
    lines += [f"2026-03-01T10:00:{i:02d}Z INFO ok" for i in range(20)]
    out = scan_back("\n".join(lines), keep_last=20, max_kept=5).splitlines()
    assert out[0] == lines[0] and len(out) == 5 + 1 + 20  # the error, then the newest four warnings
    assert out[1:5] == lines[397:401]


def test_scan_back_keeps_the_start_up_lines_and_the_lines_supporting_the_containers_state():
    import re

    from llama_stack_argocd.context.findings.support import SUPPORTING
    from llama_stack_argocd.context.logs import scan_back

    lines = ['{"level":"info","msg":"http server listening","addr":":8081"}', "INFO GET /healthz 200"]
    lines += [f"INFO GET /api/{i} 200" for i in range(3000)]
    lines[1500] = "[info][gc] GC(400) Pause Full (G1 Compaction Pause) 1498M->1471M(1536M) 2900.000ms"
    lines += [f"ERROR publish failed {i}" for i in range(100)] + [f"INFO tail {i}" for i in range(50)]
    text = "\n".join(lines)
    support = [re.compile(SUPPORTING["LivenessProbeFailing"], re.IGNORECASE)]
    out = scan_back(text, keep_last=50, max_kept=20, keep_first=5, support=support)
    assert '"addr":":8081"' in out and "GET /healthz 200" not in out  # how it started, not every early line
    assert "Pause Full (G1 Compaction Pause)" in out  # beside errors that repeat by the hundred
    assert out.count("ERROR publish failed") == 18  # the errors keep the rest: 20, less the two lines above
    assert "Pause Full" not in scan_back(text, keep_last=50, max_kept=20)  # without the container's state: not
