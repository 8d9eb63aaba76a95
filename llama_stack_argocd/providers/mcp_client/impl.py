"""Lists and calls mcp-for-argocd's tools through llama-stack's MCP client, under the bridge's policy.

Transport (streamable HTTP, then SSE), sessions and result parsing are llama-stack's (`providers/utils/tools/mcp`).
This adapter adds what the bridge is for: only the tools the policy offers, the caller's Application forced into
every call before it leaves, credentials chosen here (the caller's own Argo CD token when one came with the
request, else the distribution's read-only one) and sent as headers only, and answers redacted. Every failure is
a tool result the model can read; tokens appear in no tool result, error or log line.

mcp-for-argocd 0.9 answers 401 without the bearer token its MCP_AUTH_TOKEN asks for, and 403 to a Host it was not
told to accept (`--allowed-host-header`). Both are the distribution's settings, not the caller's doing: they become
`AccessDenied` errors naming the setting to fix (llama-stack then logs them and leaves the group out of the listing,
instead of answering the caller 401), never an authentication challenge to the caller.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any
from urllib.parse import urlsplit

from llama_stack.providers.utils.tools.mcp import invoke_mcp_tool, list_mcp_tools
from llama_stack_api import (
    URL,
    ListToolDefsResponse,
    ToolDef,
    ToolInvocationResult,
)

from llama_stack_argocd.bridge import policy
from llama_stack_argocd.caller import current_caller
from llama_stack_argocd.context.errors import AccessDenied, ContextError, OutOfScope, Unavailable
from llama_stack_argocd.context.redaction import Redactor
from llama_stack_argocd.observability.metrics import exception_kind, upstream_error
from llama_stack_argocd.providers.mcp_client.config import McpClientConfig
from llama_stack_argocd.providers.tool_results import FixedToolGroupRuntime, failure
from llama_stack_argocd.providers.toolgroups import BRIDGE_TOOLGROUP

PROVIDER_ID = "mcp-for-argocd"


class McpClientToolRuntimeImpl(FixedToolGroupRuntime):
    def __init__(self, config: McpClientConfig) -> None:
        self.config = config
        self._listing_paused_until = 0.0  # after a failed listing, turns do not wait on the server again at once

    async def list_runtime_tools(
        self, tool_group_id: str | None = None, mcp_endpoint: URL | None = None, authorization: str | None = None
    ) -> ListToolDefsResponse:
        """The tools the policy offers. Raises when the server cannot be listed: llama-stack then leaves the group
        out of this listing and asks again on the next one. Every turn lists, so after a failure the server is not
        asked again for `retry_after_seconds`: a hung server costs one turn the listing timeout, not every turn."""
        if mcp_endpoint is None:
            raise ValueError(f"{BRIDGE_TOOLGROUP} needs the MCP server's URL (ARGOCD_MCP_URL)")
        if time.monotonic() < self._listing_paused_until:
            raise Unavailable("The Argo CD MCP server failed to list its tools recently; not asked again yet.")
        try:
            listed = await asyncio.wait_for(
                list_mcp_tools(mcp_endpoint.uri, headers=self._headers(), authorization=self._inbound()),
                self.config.list_timeout_seconds,
            )
        except Exception as error:
            upstream_error("mcp", exception_kind(error) or "other")
            self._listing_paused_until = time.monotonic() + self.config.retry_after_seconds
            refusal = self._refusal(error, mcp_endpoint.uri)
            if refusal is not None:
                raise refusal from None
            raise
        tools = []
        for tool in listed.data:
            if not policy.offered(tool.name, self.config.allow_write_tools):
                continue
            schema = tool.input_schema or {}
            tools.append(
                ToolDef(
                    toolgroup_id=BRIDGE_TOOLGROUP,
                    name=tool.name,
                    description=tool.description,
                    input_schema=policy.model_schema(schema),
                    metadata={
                        "endpoint": mcp_endpoint.uri,
                        "parameters": sorted((schema.get("properties") or {}).keys()),
                        "requires_approval": policy.needs_approval(tool.name),
                    },
                )
            )
        return ListToolDefsResponse(data=tools)

    async def invoke_tool(
        self, tool_name: str, kwargs: dict[str, Any], authorization: str | None = None
    ) -> ToolInvocationResult:
        caller = current_caller()
        try:
            if not policy.offered(tool_name, self.config.allow_write_tools):
                raise OutOfScope(f"{tool_name} is not enabled on this assistant (read-only).")
            tool = await self.tool_store.get_tool(tool_name)
            metadata = tool.metadata or {}
            arguments = policy.scoped_arguments(
                tool_name,
                kwargs,
                set(metadata.get("parameters", [])),
                caller.application if caller else None,
                caller.project if caller else None,
            )
            result = await asyncio.wait_for(
                invoke_mcp_tool(
                    metadata["endpoint"], tool_name, arguments, headers=self._headers(), authorization=self._inbound()
                ),
                self.config.call_timeout_seconds,
            )
        except ContextError as error:
            return failure(error)
        except TimeoutError:
            upstream_error("mcp", "timeout")
            return failure(Unavailable(f"The Argo CD MCP server did not answer {tool_name} in time."))
        except Exception as error:  # noqa: BLE001 - connection refused, protocol errors: the model hears of it
            upstream_error("mcp", exception_kind(error) or "other")
            refusal = self._refusal(error, str(metadata.get("endpoint", "")))
            return failure(refusal or Unavailable(f"The Argo CD MCP server could not run {tool_name}: "
                                                  f"{_safe(error, self)}"))
        text = "\n".join(getattr(item, "text", "") for item in _items(result.content))
        redacted = Redactor().redact_text(text)
        return ToolInvocationResult(
            content=redacted,
            error_message=redacted[:500] if result.error_code else None,
            error_code=result.error_code,
        )

    def _headers(self) -> dict[str, str]:
        """The caller's own Argo CD token when the request carried one, else the distribution's read-only token."""
        caller = current_caller()
        token = caller.argocd_token.get_secret_value() if caller and caller.argocd_token else None
        token = token or self.config.server_token()
        headers = {}
        if self.config.argocd_base_url:
            headers["x-argocd-base-url"] = self.config.argocd_base_url
        if token:
            headers["x-argocd-api-token"] = token
        return headers

    def _inbound(self) -> str | None:
        return self.config.inbound_token()

    def _refusal(self, error: BaseException, endpoint: str) -> AccessDenied | None:
        """mcp-for-argocd refusing the bridge itself (401: its bearer token, 403: the Host): what to fix, or None."""
        status = _http_status(error)
        if status == 401:
            configured = self.config.mcp_auth_token_file or self.config.mcp_auth_token
            problem = "refused the bridge's bearer token" if configured else "asks for a bearer token and none is set"
            return AccessDenied(
                f"The Argo CD MCP server {problem} (401): set ARGOCD_MCP_AUTH_TOKEN_FILE (or ARGOCD_MCP_AUTH_TOKEN; "
                "mcp_auth_token_file / mcp_auth_token) to the value of its MCP_AUTH_TOKEN.",
                hint="The Argo CD MCP tools are unavailable until the assistant's configuration is fixed.")
        if status == 403:
            host = urlsplit(endpoint).hostname or endpoint
            return AccessDenied(
                f"The Argo CD MCP server refused the request's Host or Origin (403): start it with "
                f"--allowed-host-header {host} (the host of ARGOCD_MCP_URL).",
                hint="The Argo CD MCP tools are unavailable until the assistant's configuration is fixed.")
        return None

    def secrets(self) -> list[str]:
        caller = current_caller()
        try:
            inbound = self._inbound()
        except ValueError:  # an unreadable token file: nothing of it can be in a message
            inbound = None
        values = [self.config.server_token(), inbound]
        if caller and caller.argocd_token:
            values.append(caller.argocd_token.get_secret_value())
        return [v for v in values if v]


def _http_status(error: BaseException) -> int | None:
    """The HTTP status of the response that caused `error`, looking through causes and exception groups.

    Duck-typed on `.response.status_code` (httpx's HTTPStatusError, or httpx2's, which OGX's MCP client raises)."""
    seen: set[int] = set()
    pending: list[BaseException] = [error]
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        status = getattr(getattr(current, "response", None), "status_code", None)
        if isinstance(status, int):
            return status
        if isinstance(current, BaseExceptionGroup):
            pending.extend(current.exceptions)
        pending.extend(e for e in (current.__cause__, current.__context__) if e is not None)
    return None


def _items(content: Any) -> list[Any]:
    return content if isinstance(content, list) else [content]


def _safe(error: BaseException, runtime: McpClientToolRuntimeImpl) -> str:
    """An error's message with every credential blanked (an HTTP error may echo request headers)."""
    message = str(error) or type(error).__name__
    for secret in runtime.secrets():
        message = message.replace(secret, "[REDACTED]")
    return message
