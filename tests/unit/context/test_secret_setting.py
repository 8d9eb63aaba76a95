"""One secret, inline or in a file: each form read, both at once refused, a bad file named, the value never shown;
the proxy secret and the Argo CD API token read it that way."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from llama_stack_argocd.context.secret_setting import SecretSetting, SecretSettingError
from llama_stack_argocd.context.settings import ArgoCDAccount, ContextSettings
from llama_stack_argocd.security.proxy_secret import ProxySecret

VALUE = "s3cr3t-value-of-enough-length"
SETTING = SecretSetting("the test secret", "TEST_SECRET", "TEST_SECRET_FILE")


def secret_file(tmp_path: Path, content: str | bytes) -> str:
    path = tmp_path / "secret"
    (path.write_bytes if isinstance(content, bytes) else path.write_text)(content)  # type: ignore[operator]
    return str(path)


@pytest.mark.parametrize("inline", [VALUE, SecretStr(VALUE), f"  {VALUE}\n"])
def test_inline_is_the_value(inline):
    assert SETTING.read(inline, None) == VALUE
    assert SETTING.read(inline, "") == VALUE  # run.yaml's `${env.X:=}` for an unset file variable


def test_a_file_is_read_when_asked_so_a_rotated_secret_applies(tmp_path):
    path = secret_file(tmp_path, VALUE + "\n")  # as `kubectl create secret --from-file` often leaves it
    assert SETTING.read(None, path) == VALUE
    Path(path).write_text("rotated-" + VALUE)
    assert SETTING.read(None, path) == "rotated-" + VALUE


@pytest.mark.parametrize("inline, path", [(None, None), ("", ""), ("  ", " "), (SecretStr(""), None)])
def test_neither_is_none(inline, path):
    assert SETTING.read(inline, path) is None
    assert not SETTING.configured(inline, path)


@pytest.mark.parametrize("inline", [VALUE, SecretStr(VALUE)])
def test_both_set_is_refused_naming_both_settings(tmp_path, inline):
    with pytest.raises(SecretSettingError) as refused:
        SETTING.read(inline, secret_file(tmp_path, VALUE))
    assert "TEST_SECRET or TEST_SECRET_FILE, not both" in str(refused.value)
    assert VALUE not in str(refused.value)
    with pytest.raises(SecretSettingError):
        SETTING.configured(inline, "/any/path")


@pytest.mark.parametrize("content, says", [
    (None, "No such file or directory"),
    ("", "is empty"),
    ("\n \n", "is empty"),
    (b"\xff\xfe" + VALUE.encode() + b"\xff", "is not UTF-8 text"),
    ("directory", "Is a directory"),
])
def test_a_file_that_cannot_be_used_is_a_clear_error_naming_the_path_not_the_value(tmp_path, content, says):
    if content is None:
        path = str(tmp_path / "missing")
    elif content == "directory":
        path = str(tmp_path)
    else:
        path = secret_file(tmp_path, content)
    with pytest.raises(SecretSettingError) as failed:
        SETTING.read(None, path)
    message = str(failed.value)
    assert says in message and path in message and "TEST_SECRET_FILE" in message, message
    assert VALUE not in message and "\\xff" not in message
    assert failed.value.__cause__ is None  # no chained error that would show the content
    assert failed.value.__context__ is None or failed.value.__suppress_context__


def test_from_the_environment(tmp_path):
    path = secret_file(tmp_path, VALUE)
    assert SETTING.from_environment({"TEST_SECRET": VALUE}) == VALUE
    assert SETTING.from_environment({"TEST_SECRET_FILE": path}) == VALUE
    assert SETTING.from_environment({}) is None
    with pytest.raises(SecretSettingError, match="not both"):
        SETTING.from_environment({"TEST_SECRET": VALUE, "TEST_SECRET_FILE": path})


# -- the users: the proxy secret (environment variables) and the Argo CD API token (settings) -----------------------


def test_the_proxy_secret_reads_either_form_and_refuses_both(tmp_path, monkeypatch):
    path = secret_file(tmp_path, VALUE + "\n")
    monkeypatch.setenv("PS", VALUE)
    assert ProxySecret.load("PS", "PS_FILE").matches(VALUE)
    monkeypatch.setenv("PS_FILE", path)
    with pytest.raises(SecretSettingError, match="PS or PS_FILE, not both"):
        ProxySecret.load("PS", "PS_FILE")
    monkeypatch.delenv("PS")
    assert ProxySecret.load("PS", "PS_FILE").matches(VALUE)
    monkeypatch.setenv("PS_FILE", str(tmp_path / "missing"))
    with pytest.raises(SecretSettingError, match="cannot read the proxy secret file"):
        ProxySecret.load("PS", "PS_FILE")
    monkeypatch.delenv("PS_FILE")
    assert ProxySecret.load("PS", "PS_FILE") is None


def test_the_argocd_token_reads_either_form_and_refuses_both_at_configuration(tmp_path):
    path = secret_file(tmp_path, VALUE + "\n")
    assert ArgoCDAccount(api_token=VALUE).token() == VALUE
    assert ArgoCDAccount(api_token_file=path).token() == VALUE
    assert ArgoCDAccount(api_token="", api_token_file="").has_token is False
    with pytest.raises(ValidationError) as refused:
        ArgoCDAccount(api_token=VALUE, api_token_file=path)
    assert "ARGOCD_API_TOKEN or ARGOCD_API_TOKEN_FILE, not both" in str(refused.value)
    assert VALUE not in str(refused.value)
    with pytest.raises(ValidationError) as refused:  # the same through the context settings run.yaml fills
        ContextSettings(source="argocd", argocd={"server_url": "https://argocd.example", "api_token": VALUE,
                                                 "api_token_file": path})
    assert "not both" in str(refused.value) and VALUE not in str(refused.value)
    with pytest.raises(SecretSettingError, match="no Argo CD API token is configured"):
        ArgoCDAccount().token()
