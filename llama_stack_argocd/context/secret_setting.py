"""A secret configured inline or in a file (a mounted Kubernetes Secret): one way to read it, one set of errors.

The proxy secret and the Argo CD API token are each given either as a value or as the path of a file holding it.
Both at once is refused (which one would win is a guess an operator should not have to make); a file is read when
the value is needed, so a rotated Secret applies. Errors name the settings and the path, never the value.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from pydantic import SecretStr


class SecretSettingError(ValueError):
    """A secret setting that cannot be used (both forms set, file unreadable or empty); the message holds no value."""


@dataclass(frozen=True)
class SecretSetting:
    """One secret: `what` it is for messages, and the names of its inline and its file setting."""

    what: str  # e.g. "the Argo CD API token"
    inline_name: str  # e.g. ARGOCD_API_TOKEN
    file_name: str  # e.g. ARGOCD_API_TOKEN_FILE

    def configured(self, inline: str | SecretStr | None, path: str | None) -> bool:
        """Whether one form is set; raises when both are (blank counts as unset)."""
        has_inline, has_path = bool(_text(inline)), bool((path or "").strip())
        if has_inline and has_path:
            raise SecretSettingError(f"{self.what} is set twice: set {self.inline_name} or {self.file_name}, not both")
        return has_inline or has_path

    def read(self, inline: str | SecretStr | None, path: str | None) -> str | None:
        """The secret (stripped of surrounding white space, such as a file's trailing newline); None when unset."""
        if not self.configured(inline, path):
            return None
        if value := _text(inline):
            return value
        return self._read_file(Path((path or "").strip()))

    def from_environment(self, environ: Mapping[str, str] | None = None) -> str | None:
        """The secret from the environment variables `inline_name` and `file_name`."""
        env = os.environ if environ is None else environ
        return self.read(env.get(self.inline_name), env.get(self.file_name))

    def _read_file(self, path: Path) -> str:
        try:
            value = path.read_text().strip()
        except OSError as error:
            raise SecretSettingError(f"cannot read {self.what} file {path} ({self.file_name}): "
                                     f"{error.strerror or type(error).__name__}") from None
        except UnicodeDecodeError:  # its message would quote a byte of the file
            raise SecretSettingError(f"{self.what} file {path} ({self.file_name}) is not UTF-8 text") from None
        if not value:
            raise SecretSettingError(f"{self.what} file {path} ({self.file_name}) is empty")
        return value


def _text(value: str | SecretStr | None) -> str:
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    return (value or "").strip()
