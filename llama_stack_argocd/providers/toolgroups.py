"""The tool groups this distribution registers, by the ids clients list them under (`GET /v1/tools`)."""

CONTEXT_TOOLGROUP = "argocd::context"  # our Argo CD / Kubernetes context tools (tool_runtime inline::argocd)
BRIDGE_TOOLGROUP = "mcp::argocd"  # mcp-for-argocd's tools through the bridge (tool_runtime inline::argocd-mcp-client)
