"""llama-stack-argocd: a Llama-Stack distribution that backs the Assistant for Argo CD."""

__version__ = "0.1.0"
