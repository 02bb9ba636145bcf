/**
 * A tiny MCP server on stdio (newline-delimited JSON-RPC 2.0), for tests that start sessions with MCP
 * servers: one tool, `whoami`, answers with the MCP_TOKEN of the environment the server was started with,
 * so a test sees which credentials reached it. Plain JavaScript: Claude Code starts it with `node` from the
 * session's workspace, where no TypeScript loader is at hand.
 */
import { createInterface } from 'node:readline'

const TOOLS = [
  {
    name: 'whoami',
    description: 'Says which token this server was started with.',
    inputSchema: { type: 'object', properties: {} },
  },
]

const send = (message) => process.stdout.write(`${JSON.stringify({ jsonrpc: '2.0', ...message })}\n`)

function answer(method, params) {
  switch (method) {
    case 'initialize':
      return {
        protocolVersion: params?.protocolVersion ?? '2025-06-18',
        capabilities: { tools: {} },
        serverInfo: { name: 'test-mcp', version: '1.0.0' },
      }
    case 'ping':
      return {}
    case 'tools/list':
      return { tools: TOOLS }
    case 'tools/call':
      if (params?.name !== 'whoami') return null
      return { content: [{ type: 'text', text: `token=${process.env.MCP_TOKEN ?? '(none)'}` }] }
    default:
      return null
  }
}

for await (const line of createInterface({ input: process.stdin })) {
  if (!line.trim()) continue
  const { id, method, params } = JSON.parse(line)
  // Notifications (no id) need no answer.
  if (id === undefined || id === null) continue
  const result = answer(method, params)
  if (result) send({ id, result })
  else send({ id, error: { code: -32601, message: `Method not found: ${method}` } })
}
