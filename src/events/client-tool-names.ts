/**
 * How the API client's own functions are named among Claude's tools: the tools of one in-process MCP server
 * (engine/client-tools.ts), so Claude sees each function as `mcp__client__<name>`.
 */
export const CLIENT_SERVER = 'client'
const PREFIX = `mcp__${CLIENT_SERVER}__`

/** The client function a Claude tool name stands for, or undefined for Claude Code's own tools. */
export const clientFunctionName = (toolName: string) =>
  toolName.startsWith(PREFIX) ? toolName.slice(PREFIX.length) : undefined

/** The permission rule that lets every client function run without a prompt. */
export const CLIENT_TOOLS_RULE = `mcp__${CLIENT_SERVER}`
