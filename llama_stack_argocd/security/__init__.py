"""Proxy trust, identity, quotas and audit: the rules every front door applies the same way.

Framework-free; the HTTP side lives in `apis/`.
"""
