"""`llama stack list-deps` for a config with `${env...}` references, from any directory.

    python -m llama_stack_argocd.cli.deps run.yaml [list-deps options, e.g. --format uv]

llama-stack 0.7.3's `list-deps` builds the config from the raw YAML without substituting `${env...}` (`llama stack
run` does substitute), so our `external_apis_dir: ${env.LLAMA_STACK_ARGOCD_APIS_DIR:=...}` stays literal text, no
directory of that name exists, and the config's external APIs are unknown (`API 'legacy_agents' does not exist`).
This substitutes the environment the way `llama stack run` does (llama-stack's own `replace_env_vars`; providers
whose id resolves empty are dropped, as the server drops them), writes the result to a temporary file and runs
`llama stack list-deps` on it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

import llama_stack_argocd._paths  # noqa: F401 - sets LLAMA_STACK_ARGOCD_APIS_DIR when the venv's .pth did not

LLAMA = Path(sys.executable).with_name("llama")


def resolved_config(path: Path) -> dict[str, Any]:
    """The config as `llama stack run` reads it: environment substituted, disabled providers gone, the external
    APIs directory absolute (it is resolved against the current directory)."""
    from llama_stack.core.stack import replace_env_vars

    config: dict[str, Any] = replace_env_vars(yaml.safe_load(path.read_text()))
    for api, providers in (config.get("providers") or {}).items():
        config["providers"][api] = [p for p in providers or []
                                    if p.get("provider_id") not in (None, "", "__disabled__")]
    if config.get("external_apis_dir"):
        config["external_apis_dir"] = str(Path(config["external_apis_dir"]).expanduser().resolve())
    return config


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0].startswith("-"):
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    config = Path(args[0])
    if not config.is_file():
        print(f"no such config file: {config}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="list-deps-") as directory:
        resolved = Path(directory) / config.name
        resolved.write_text(yaml.safe_dump(resolved_config(config), sort_keys=False))
        return subprocess.run([str(LLAMA), "stack", "list-deps", str(resolved), *args[1:]], env=os.environ).returncode


if __name__ == "__main__":
    sys.exit(main())
