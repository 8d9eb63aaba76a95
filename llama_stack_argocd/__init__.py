"""llama-stack-argocd: a Llama-Stack distribution that backs the Assistant for Argo CD (on llama-stack 0.7 or OGX 1.5)."""

from llama_stack_argocd import hosting

hosting.install()  # on OGX, the llama_stack / llama_stack_api names the package imports are OGX's modules

__version__ = "0.1.0"
