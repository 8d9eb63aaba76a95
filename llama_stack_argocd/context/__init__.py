"""The context domain: Argo CD Application scope, Kubernetes/Argo CD reads, redaction, budgeting, findings.

Nothing here imports llama-stack or an HTTP framework; providers and routes are thin adapters over it.
"""
