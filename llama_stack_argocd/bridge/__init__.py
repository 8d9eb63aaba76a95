"""The MCP bridge to mcp-for-argocd (npm `argocd-mcp`): which of its tools the agent may use, and how.

Pure policy, no llama-stack or HTTP imports: the tool runtime provider (providers/argocd_mcp) applies it.
"""
