"""Redaction: planted secrets never survive, harmless text is left as it was, and the count is what was withheld."""

from __future__ import annotations

import base64
import json

import pytest
from pydantic import ValidationError

from llama_stack_argocd.context.redaction import MASK, RedactionFilter, Redactor
from llama_stack_argocd.context.settings import ContextSettings

JWT = "eyJhbGciOiJSUzI1NiIsImtpZCI6IjEifQ.eyJzdWIiOiJzeXN0ZW06c2EifQ.Zm9vYmFyYmF6cXV4LXNpZ25hdHVyZQ"
PEM = (
    "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun\n"
    "VTLw7onLRnrq0/IzW7yWR7QkrmBL7jTKEn5u+qKhbwKfBstIs+bMY2Zkp18gnTxK\n-----END RSA PRIVATE KEY-----"
)

# (text with a planted secret, the secret, a fragment of context that must survive)
PLANTED_IN_TEXT = [
    (f"Authorization: Bearer {JWT}", JWT, "Authorization: Bearer"),
    ("curl -H 'Authorization: Bearer abcdef0123456789xyz' http://svc", "abcdef0123456789xyz", "http://svc"),
    (f"token={JWT}", JWT, "token="),
    (f"id_token {JWT} issued", JWT, "issued"),
    (f"key file:\n{PEM}\nloaded", "MIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0t", "loaded"),
    ("aws AKIAIOSFODNN7EXAMPLE configured", "AKIAIOSFODNN7EXAMPLE", "configured"),
    ("connecting to postgres://app:s3cr3t@db:5432/app", "s3cr3t", "@db:5432/app"),
    ("redis url redis://default:p4ss-w0rd@redis:6379/0 ok", "p4ss-w0rd", "redis:6379/0"),
    ("login with password=correct-horse-battery", "correct-horse-battery", "login with password="),
    ("DB_PASSWORD=hunter2 DB_HOST=db", "hunter2", "DB_HOST=db"),
    ('{"client_secret": "cs-98765-abcdef", "client_id": "argocd"}', "cs-98765-abcdef", '"client_id": "argocd"'),
    ("api_key: 5f4dcc3b5aa765d61d8327deb882cf99", "5f4dcc3b5aa765d61d8327deb882cf99", "api_key:"),
    ("Server=db;User Id=sa;Password=Pa55word!;", "Pa55word!", "Server=db"),
    ("push with ghp_abcdefghijklmnopqrstuvwxyz0123456789 failed", "ghp_abcdefghijklmnopqrstuvwxyz0123456789", "failed"),
    # an object whose name says secret does not shield what follows its name
    ("ConfigMap shop/api-token: password=Qw3rty-991 mode=rw", "Qw3rty-991", "ConfigMap shop/api-token:"),
    ("example.com/api-token: Zk82jfPq0w", "Zk82jfPq0w", "example.com/api-token:"),
    ("https://ci.example.com/build?auth_token=Zk82jfPq0wLm&x=1", "Zk82jfPq0wLm", "&x=1"),  # a URL query still
]


@pytest.mark.parametrize(("text", "secret", "context"), PLANTED_IN_TEXT, ids=[p[1][:12] for p in PLANTED_IN_TEXT])
def test_planted_secrets_in_text_do_not_survive_and_context_does(text, secret, context):
    redactor = Redactor()
    out = redactor.redact_text(text)
    assert secret not in out
    assert context in out and MASK in out
    assert redactor.count >= 1


HARMLESS = [
    "2026-11-25T06:40:00Z INFO request id=04242 path=/api/entries status=200 duration=12ms",
    "GET /api/entries status=200 key=value token-count=3 user=admin",
    'Back-off restarting failed container web in pod guestbook-ui-5d8f7c9b6-xyz12_guestbook(uid-pod-2)',
    "secretName: guestbook-secret\nsecret:\n  secretName: tls-cert",
    "Readiness probe failed: Get \"http://10.0.0.13:8080/healthz\": dial tcp 10.0.0.13:8080: connect: refused",
    "https://git.example.com/guestbook.git@main",
    "Traceback (most recent call last):\n  File \"/app/server.py\", line 12, in <module>",
    "",
    # the names of objects (Kind namespace/name) that contain a secret-sounding word, and the summary after them
    "Application argocd/secret-sync: sync=Synced health=Healthy",
    "Deployment vault/token-rotator: replicas=2 ready=1 available=1",
    'Post "https://pgops-webhook.pgops-system.svc:443/validate-v1-cluster?timeout=10s": tls: failed',  # host:port
]


@pytest.mark.parametrize("text", HARMLESS)
def test_harmless_text_is_returned_unchanged(text):
    redactor = Redactor()
    assert redactor.redact_text(text) == text
    assert redactor.count == 0


def test_redacting_twice_changes_and_counts_nothing_more():
    redactor = Redactor()
    once = redactor.redact_text(f"Bearer {JWT} and postgres://a:b-secret@db/x and password=abc123")
    counted = redactor.count
    assert redactor.redact_text(once) == once
    assert redactor.count == counted == 3


def test_each_value_counts_once():
    redactor = Redactor()
    redactor.redact_text("AKIAIOSFODNN7EXAMPLE AKIAI44QH8DHBEXAMPLE password=x1 token: y2")
    assert redactor.count == 4


def pod_with_env() -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": [{
        "name": "web",
        "env": [
            {"name": "DB_PASSWORD", "value": "hunter2-planted"},
            {"name": "GITHUB_APIKEY", "value": "k-123"},
            {"name": "SSH_PRIVATE", "value": "pk-456"},
            {"name": "OAUTH_CLIENT_CREDENTIALS", "value": "cc-789"},
            {"name": "AUTH_ENABLED", "value": "true"},
            {"name": "LOG_LEVEL", "value": "debug"},
            {"name": "API_TOKEN", "valueFrom": {"secretKeyRef": {"name": "s", "key": "token"}}},
        ],
        "readinessProbe": {"httpGet": {"path": "/", "httpHeaders": [
            {"name": "Authorization", "value": "Basic dXNlcjpwdw=="}]}},
    }]}}


def test_env_values_with_secret_names_are_masked_refs_and_harmless_values_kept():
    pod = pod_with_env()
    redactor = Redactor()
    out = redactor.redact_obj(pod)
    env = {e["name"]: e for e in out["spec"]["containers"][0]["env"]}
    for name in ("DB_PASSWORD", "GITHUB_APIKEY", "SSH_PRIVATE", "OAUTH_CLIENT_CREDENTIALS"):
        assert env[name]["value"] == MASK, name
    assert env["AUTH_ENABLED"]["value"] == "true" and env["LOG_LEVEL"]["value"] == "debug"
    assert env["API_TOKEN"]["valueFrom"] == {"secretKeyRef": {"name": "s", "key": "token"}}
    assert out["spec"]["containers"][0]["readinessProbe"]["httpGet"]["httpHeaders"][0]["value"] == MASK
    assert redactor.count == 5
    assert pod["spec"]["containers"][0]["env"][0]["value"] == "hunter2-planted"  # the input is untouched


def test_secret_values_are_withheld_keys_kept_and_counted():
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db"},
              "data": {"password": base64.b64encode(b"pw").decode(), "user": base64.b64encode(b"app").decode()},
              "stringData": {"url": "postgres://app:pw@db/app"}}
    redactor = Redactor()
    out = redactor.redact_obj(secret)
    assert out["data"] == {"password": MASK, "user": MASK} and out["stringData"] == {"url": MASK}
    assert redactor.count == 3


def test_json_inside_strings_is_redacted_by_structure():
    """The last-applied annotation repeats a Secret's data and literal env values as a JSON string."""
    applied = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"},
               "data": {"token": base64.b64encode(b"top-secret-value").decode()}}
    deployment_applied = {"kind": "Deployment", "spec": {"template": {"spec": {"containers": [
        {"name": "web", "env": [{"name": "DB_PASSWORD", "value": "hunter2"}]}]}}}}
    annotation = "kubectl.kubernetes.io/last-applied-configuration"
    redactor = Redactor()
    out = redactor.redact_obj([
        {"kind": "Secret", "metadata": {"annotations": {annotation: json.dumps(applied)}}, "data": {}},
        {"kind": "Deployment", "metadata": {"annotations": {annotation: json.dumps(deployment_applied)}}},
    ])
    dumped = json.dumps(out)
    assert base64.b64encode(b"top-secret-value").decode() not in dumped and "hunter2" not in dumped
    assert json.loads(out[0]["metadata"]["annotations"][annotation])["data"] == {"token": MASK}
    assert redactor.count == 2


def test_json_text_without_secrets_keeps_its_formatting():
    text = '{"kind": "ConfigMap",   "data": {"LOG_LEVEL": "info"}}'
    redactor = Redactor()
    assert redactor.redact_text(text) == text and redactor.count == 0


def test_secret_looking_map_entries_are_masked():
    app = {"kind": "Application", "spec": {"source": {"helm": {"valuesObject": {
        "postgresql": {"auth": {"password": "pg-pass-1", "username": "app"}},
        "oidc": {"clientSecret": "oidc-secret-2"},
        "ingress": {"tls": [{"secretName": "web-tls"}]},
    }}}}}
    config_map = {"kind": "ConfigMap", "data": {"SMTP_PASSWORD": "mail-pass-3", "LOG_LEVEL": "info"}}
    redactor = Redactor()
    out_app, out_cm = redactor.redact_obj(app), redactor.redact_obj(config_map)
    values = out_app["spec"]["source"]["helm"]["valuesObject"]
    assert values["postgresql"]["auth"] == {"password": MASK, "username": "app"}
    assert values["oidc"]["clientSecret"] == MASK
    assert values["ingress"]["tls"][0]["secretName"] == "web-tls"
    assert out_cm["data"] == {"SMTP_PASSWORD": MASK, "LOG_LEVEL": "info"}
    assert redactor.count == 3


def test_operator_filters_apply_after_the_built_in_patterns():
    redactor = Redactor([RedactionFilter(pattern=r"cust-\d{6}", replacement="<customer>"),
                         RedactionFilter(name="iban", pattern=r"\bDE\d{20}\b")])
    out = redactor.redact_text("order for cust-123456 paid from DE89370400440532013000")
    assert out == f"order for <customer> paid from {MASK}"
    assert redactor.count == 2


def test_settings_take_filters_as_pattern_and_replacement_and_refuse_bad_regexes():
    settings = ContextSettings(redaction_filters=[{"pattern": "internal-[a-z]+", "replacement": "<host>"}])
    assert Redactor(settings.redaction_filters).redact_text("call internal-billing") == "call <host>"
    with pytest.raises(ValidationError, match="not a valid regular expression"):
        ContextSettings(redaction_filters=[{"pattern": "unclosed("}])


def test_non_string_leaves_are_kept():
    redactor = Redactor()
    obj = {"replicas": 3, "ready": True, "ratio": 0.5, "none": None, "token": 7}
    assert redactor.redact_obj(obj) == obj and redactor.count == 0


@pytest.mark.parametrize("text, kept", [
    ('Error: secret "smtp-credentials" not found', True),  # the kubelet naming the Secret a Pod misses
    ('secrets "db.creds-2" not found', True),
    ('the secret "hunter2!" not found', False),  # not a Kubernetes name
    ('secret "Hunter2x" not found', False),
    ('secret "hunter2x" is not right', False),  # no "not found" after it
    ('secret: "hunter2x" not found', False),  # a key and its value
    ('password "orders-db" not found', False),  # a password is never a name
    ('secret: shop/hunter2x', False),
    ('the token for Secret shop/db-creds expired', True),
])
def test_the_name_of_a_missing_secret_stays_readable_and_nothing_else_does(text, kept):
    assert (Redactor().redact_text(text) == text) is kept


def test_a_value_without_separators_is_still_checked_by_shape_and_by_the_operators_rules():
    """Texts with no whitespace, `:` or `=` take the short path (shapes, webhooks, the operator's rules only)."""
    from llama_stack_argocd.context.redaction import RedactionFilter, Redactor

    redactor = Redactor([RedactionFilter(pattern=r"acct-\d{6}", replace_with="[ACCOUNT]")])
    obj = {"metadata": {"labels": {"owner": "acct-123456", "build": "AKIAIOSFODNN7EXAMPLE"},
                        "annotations": {"hook": "hooks.slack.com/services/T0000/B0000/XXXXXXXXXXXXXXXXXXXXXXXX"}},
           "spec": {"image": "ghcr.io/example/web"}}
    out = redactor.redact_obj(obj)
    assert out["metadata"]["labels"] == {"owner": "[ACCOUNT]", "build": "[REDACTED]"}
    assert "XXXXXXXXXXXXXXXXXXXXXXXX" not in out["metadata"]["annotations"]["hook"]
    assert out["spec"]["image"] == "ghcr.io/example/web"
    assert redactor.redact_text("db_password=Zx81qPw9") == "db_password=[REDACTED]"  # the long path still runs


def test_the_name_of_a_secret_an_api_error_is_about_stays_its_value_does_not():
    redactor = Redactor()
    assert redactor.redact_text('Error: secret "smtp-credentials" not found') == (
        'Error: secret "smtp-credentials" not found')
    assert "shop/app-secrets" in redactor.redact_text("couldn't find key PASSWORD in Secret shop/app-secrets")
    assert "hunter2-pass" not in redactor.redact_text('the secret "hunter2-pass" is set')
    assert "s3cr3t-v4lue" not in redactor.redact_text('password "s3cr3t-v4lue" not found')
