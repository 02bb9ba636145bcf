/**
 * Functions that the API client executes, offered to Claude as one in-process MCP server. Its tool list is
 * the client's own JSON Schema, unchanged (the SDK's zod-based `tool()` would rewrite it), and a call parks
 * until the client's result arrives through the API. Claude sees each function as `mcp__client__<name>`.
 */
import type { McpSdkServerConfigWithInstance } from '@anthropic-ai/claude-agent-sdk'
import { CLIENT_SERVER } from '../events/client-tool-names.js'
import type { ClientToolSpec } from '../store/types.js'

export interface ClientToolCall {
  /** Claude's tool_use id: the id the API client answers. */
  toolUseId: string
  name: string
  input: Record<string, unknown>
  /** Aborted when Claude Code gives up on the call (interrupt, its own tool timeout). */
  signal: AbortSignal
}

export interface ClientToolResult {
  content: string
  isError?: boolean
}

export async function clientToolServer(
  tools: readonly ClientToolSpec[],
  call: (request: ClientToolCall) => Promise<ClientToolResult>,
): Promise<McpSdkServerConfigWithInstance> {
  // Both loaded on first use, like the SDK elsewhere: the gateway's start-up does not pay for them.
  const [{ createSdkMcpServer }, { z }] = await Promise.all([
    import('@anthropic-ai/claude-agent-sdk'),
    import('zod'),
  ])
  // The MCP server dispatches on the method literal; the params are read as given.
  const ListToolsRequest = z.object({ method: z.literal('tools/list'), params: z.optional(z.any()) })
  const CallToolRequest = z.object({
    method: z.literal('tools/call'),
    params: z.looseObject({ name: z.string(), arguments: z.optional(z.record(z.string(), z.unknown())) }),
  })
  // `tools: []` still announces the tools capability; both handlers are replaced below.
  const config = createSdkMcpServer({ name: CLIENT_SERVER, tools: [] })
  const server = config.instance.server
  server.setRequestHandler(ListToolsRequest, () => ({
    tools: tools.map((tool) => ({
      name: tool.name,
      description: tool.description,
      inputSchema: tool.parameters,
      // Read-only: Claude Code runs the calls of one answer at the same time (and allows them in plan mode).
      annotations: { readOnlyHint: true },
      // Never hidden behind tool search, whatever built-in tools the session has.
      _meta: { 'anthropic/alwaysLoad': true },
    })),
  }))
  server.setRequestHandler(CallToolRequest, async (request, extra) => {
    const toolUseId = extra._meta?.['claudecode/toolUseId']
    if (typeof toolUseId !== 'string') return errorResult('Claude Code sent no tool_use id for this call')
    const result = await call({
      toolUseId,
      name: request.params.name,
      input: request.params.arguments ?? {},
      signal: extra.signal,
    })
    return {
      content: [{ type: 'text' as const, text: result.content }],
      ...(result.isError ? { isError: true } : {}),
    }
  })
  return config
}

function errorResult(message: string) {
  return { content: [{ type: 'text' as const, text: message }], isError: true }
}
