"""Run at interpreter start (from the `.pth` file `make install` puts into the venv): where our API specs are.

llama-stack reads `external_apis_dir` relative to the current directory, and a run.yaml cannot name a package's
directory, so the distributions say `${env.LLAMA_STACK_ARGOCD_APIS_DIR:=...}` and this sets that variable (unless
it is set already) to the installed package's specs: `llama stack run /any/path/run.yaml` works from any directory.
Nothing is imported here but `os`, so every other Python program in the venv starts as fast as before.
"""

import os

SPECS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "apis", "specs")
os.environ.setdefault("LLAMA_STACK_ARGOCD_APIS_DIR", SPECS_DIR)
