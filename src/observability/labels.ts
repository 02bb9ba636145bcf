/**
 * Label values kept bounded: every distinct value is a time series Prometheus keeps, so values that come
 * from outside (model names, tool names, routes) are folded into `other` past a known set or a small count.
 */

export const OTHER = 'other'

/** Claude Code's built-in tools: their names are labels; MCP tools and client tools count as `other`. */
const BUILTIN_TOOLS = new Set([
  'Agent',
  'AskUserQuestion',
  'Bash',
  'BashOutput',
  'Edit',
  'ExitPlanMode',
  'Glob',
  'Grep',
  'KillBash',
  'KillShell',
  'LS',
  'ListMcpResourcesTool',
  'MultiEdit',
  'NotebookEdit',
  'NotebookRead',
  'Read',
  'ReadMcpResourceTool',
  'SlashCommand',
  'Skill',
  'Task',
  'TaskOutput',
  'TodoWrite',
  'WebFetch',
  'WebSearch',
  'Write',
])

export const toolLabel = (name: string): string => (BUILTIN_TOOLS.has(name) ? name : OTHER)

const METHODS = new Set(['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'])

export const methodLabel = (method: string): string => (METHODS.has(method) ? method : OTHER)

export const statusClass = (status: number): string =>
  status >= 100 && status < 600 ? `${Math.floor(status / 100)}xx` : OTHER

/** Which API a URL belongs to: the OpenAI-compatible one under /v1, the native one under /api. */
export function apiFamily(url: string): 'openai' | 'native' | 'other' {
  if (url.startsWith('/v1/') || url === '/v1') return 'openai'
  if (url.startsWith('/api/') || url === '/api') return 'native'
  return 'other'
}

/** The first `limit` distinct values keep their name, later ones are `other`: model names come from Claude. */
export class BoundedLabel {
  private readonly seen = new Set<string>()

  constructor(private readonly limit: number) {}

  of(value: string): string {
    if (value === '') return 'unknown'
    if (this.seen.has(value)) return value
    if (this.seen.size >= this.limit) return OTHER
    this.seen.add(value)
    return value
  }
}
