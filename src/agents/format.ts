/**
 * Claude Code's agent files: Markdown with YAML front matter (`name`, `description`, `tools`, `model`, …) whose
 * body is the agent's system prompt. Parsing here is as lenient as Claude Code's own loader (a file it would
 * load parses); writing is strict (`validateAgent`) and keeps what it does not know (unknown keys, comments).
 */
import { Document, isMap, parseDocument } from 'yaml'

/** Names the gateway writes: lower case, digits and dashes, like Claude Code's `/agents` wizard. */
export const AGENT_NAME = /^[a-z0-9][a-z0-9-]{0,63}$/

/**
 * The optional front matter keys Claude Code reads from an agent file (its `AgentDefinition` plus the
 * file-only `color`, `isolation` and `hooks`), with the kind of value each one takes.
 */
export const AGENT_FIELDS = {
  tools: 'names',
  disallowedTools: 'names',
  model: 'string',
  color: 'string',
  permissionMode: ['default', 'acceptEdits', 'bypassPermissions', 'plan', 'dontAsk', 'auto'],
  effort: 'effort',
  maxTurns: 'positiveInteger',
  autoCompactWindow: 'positiveInteger',
  skills: 'names',
  mcpServers: 'mcpServers',
  initialPrompt: 'string',
  background: 'boolean',
  omitClaudeMd: 'boolean',
  memory: ['user', 'project', 'local'],
  isolation: ['worktree', 'remote'],
  observer: 'string',
  observerMessage: 'string',
  hooks: 'object',
} as const satisfies Record<string, FieldKind>

export type FieldKind =
  | 'names'
  | 'string'
  | 'boolean'
  | 'positiveInteger'
  | 'effort'
  | 'mcpServers'
  | 'object'
  | readonly string[]

export const EFFORT_LEVELS = ['low', 'medium', 'high', 'xhigh', 'max'] as const

export type AgentField = keyof typeof AGENT_FIELDS

export interface AgentSettings {
  /** Allowed tools; absent: every tool of the parent. */
  tools?: string[]
  disallowedTools?: string[]
  /** Alias (`sonnet`), full model id or `inherit`. */
  model?: string
  color?: string
  permissionMode?: string
  effort?: string | number
  maxTurns?: number
  autoCompactWindow?: number
  skills?: string[]
  mcpServers?: unknown[]
  initialPrompt?: string
  background?: boolean
  omitClaudeMd?: boolean
  memory?: string
  isolation?: string
  observer?: string
  observerMessage?: string
  hooks?: Record<string, unknown>
}

/** A whole agent, as written to a new file. */
export interface AgentInput extends AgentSettings {
  name: string
  description: string
  /** The system prompt (the file's body). */
  prompt: string
}

/** A change to an agent: given keys replace, `null` removes an optional key. The name cannot change. */
export type AgentPatch = { description?: string; prompt?: string } & {
  [K in AgentField]?: AgentSettings[K] | null
}

export type AgentErrorCode = 'invalid' | 'not_found' | 'exists' | 'ambiguous' | 'unreadable' | 'outside_scope'

export class AgentError extends Error {
  override readonly name = 'AgentError'
  constructor(
    readonly code: AgentErrorCode,
    message: string,
    /** The input key an `invalid` is about (`name`, `description`, `prompt` or an `AgentField`). */
    readonly field?: string,
  ) {
    super(message)
  }
}

/** An agent file's content, parsed as Claude Code would. */
export interface ParsedAgent {
  /** The front matter `name` (Claude Code's agent type); null when missing. */
  name: string | null
  description: string | null
  prompt: string
  /** The optional keys Claude Code knows, as the file has them (`tools` always as a list). */
  settings: AgentSettings
  /** Front matter keys Claude Code does not read as agent settings: kept on rewrite. */
  other: Record<string, unknown>
  /** Why Claude Code would not load this file; absent when it would. */
  error?: string
  /** The front matter cannot be read at all (missing, bad YAML, not a mapping): it cannot be rewritten. */
  malformed?: true
  /** The front matter as a YAML document (comments kept), for rewriting. */
  document: Document
}

const FRONT_MATTER = /^---[ \t]*\r?\n(?:([\s\S]*?)\r?\n)?---[ \t]*(?:\r?\n|$)/

/** Parse an agent file. Never throws: what makes Claude Code skip the file is reported in `error`. */
export function parseAgentFile(text: string): ParsedAgent {
  const source = text.replace(/^\uFEFF/, '')
  const match = FRONT_MATTER.exec(source)
  if (!match) return broken('No YAML front matter (the file must start with a line "---")', source.trim())
  const prompt = source.slice(match[0].length).trim()
  const document = parseDocument(match[1] ?? '', { prettyErrors: false })
  if (document.errors.length > 0) {
    return broken(`Invalid YAML front matter: ${document.errors[0]!.message.split('\n')[0]}`, prompt)
  }
  const data: unknown = document.toJS()
  if (data !== null && data !== undefined && !isPlainObject(data)) {
    return broken('The front matter is not a mapping of keys to values', prompt, document)
  }
  const fields = (data ?? {}) as Record<string, unknown>
  const settings: AgentSettings = {}
  const other: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(fields)) {
    if (key === 'name' || key === 'description') continue
    if (!(key in AGENT_FIELDS)) {
      other[key] = value
      continue
    }
    if (value === null || value === undefined) continue
    const field = key as AgentField
    ;(settings as Record<string, unknown>)[field] = AGENT_FIELDS[field] === 'names' ? nameList(value) : value
  }
  const name = typeof fields.name === 'string' && fields.name ? fields.name : null
  const description = typeof fields.description === 'string' && fields.description ? fields.description : null
  const parsed: ParsedAgent = { name, description, prompt, settings, other, document }
  const problem = loadProblem(name, description)
  if (problem) parsed.error = problem
  return parsed
}

/** Claude Code's own reasons to skip an agent file. */
function loadProblem(name: string | null, description: string | null): string | undefined {
  if (!name) return 'Missing required "name" field in front matter'
  if (name.startsWith('-')) return 'Invalid "name": names must not start with "-"'
  if (name.normalize('NFKC').includes(':')) return 'Invalid "name": names must not contain ":"'
  if (!description) return 'Missing required "description" field in front matter'
  return undefined
}

function broken(error: string, prompt: string, document = new Document({})): ParsedAgent {
  return { name: null, description: null, prompt, settings: {}, other: {}, error, malformed: true, document }
}

/** `tools: Read, Grep` or a YAML list, as Claude Code reads both. */
export function nameList(value: unknown): string[] {
  const items = Array.isArray(value) ? value.map((item) => String(item)) : String(value).split(',')
  return items.map((item) => item.trim()).filter(Boolean)
}

/** A new agent file's text, validated. */
export function formatAgentFile(input: AgentInput): string {
  validateAgent(input)
  const document = new Document({ name: input.name, description: input.description })
  for (const field of Object.keys(AGENT_FIELDS) as AgentField[]) {
    const value = input[field]
    if (value !== undefined) document.set(field, yamlValue(field, value))
  }
  return render(document, input.prompt)
}

/**
 * An existing agent file with `patch` applied: given keys replaced, `null` ones removed, everything else
 * (unknown keys, comments, key order) kept. Throws `invalid` for a bad patch or a file that would not load
 * afterwards, `unreadable` for a file whose front matter cannot be rewritten.
 */
export function patchAgentFile(text: string, patch: AgentPatch): string {
  const parsed = parseAgentFile(text)
  if (parsed.malformed) throw new AgentError('unreadable', parsed.error ?? 'The front matter cannot be read')
  if ('name' in patch) throw new AgentError('invalid', 'An agent cannot be renamed', 'name')
  validatePatch(patch)
  const document = parsed.document
  if (!isMap(document.contents)) document.contents = document.createNode({})
  if (patch.description !== undefined) document.set('description', patch.description)
  for (const field of Object.keys(AGENT_FIELDS) as AgentField[]) {
    const value = patch[field]
    if (value === null) document.delete(field)
    else if (value !== undefined) document.set(field, yamlValue(field, value))
  }
  const result = render(document, patch.prompt ?? parsed.prompt)
  const check = parseAgentFile(result)
  if (check.error) throw new AgentError('invalid', check.error, check.name ? 'description' : 'name')
  return result
}

function render(document: Document, prompt: string): string {
  const front = document.toString({ lineWidth: 0 })
  return `---\n${front}---\n\n${prompt.trim()}\n`
}

/** Lists as Claude Code's documented `tools: Read, Grep` unless a name has a comma in it. */
function yamlValue(field: AgentField, value: unknown): unknown {
  if (AGENT_FIELDS[field] === 'names' && field !== 'skills') {
    const names = value as string[]
    if (names.length > 0 && names.every((name) => !name.includes(','))) return names.join(', ')
  }
  return value
}

/** Throws `invalid` naming the first bad field of a whole agent. */
export function validateAgent(input: AgentInput): void {
  if (typeof input.name !== 'string' || !AGENT_NAME.test(input.name)) {
    throw new AgentError(
      'invalid',
      'name must be 1 to 64 lower-case letters, digits or dashes, not starting with a dash',
      'name',
    )
  }
  const { name: _name, ...rest } = input
  validatePatch(rest)
  if (typeof input.description !== 'string') throw requiredText('description')
  if (typeof input.prompt !== 'string') throw new AgentError('invalid', 'prompt must be a string', 'prompt')
}

/** Throws `invalid` naming the first bad field of a change. */
export function validatePatch(patch: AgentPatch): void {
  for (const key of Object.keys(patch)) {
    if (key !== 'description' && key !== 'prompt' && !(key in AGENT_FIELDS)) {
      throw new AgentError('invalid', `${key} is not an agent setting`, key)
    }
  }
  if (patch.description !== undefined && (typeof patch.description !== 'string' || !patch.description.trim()))
    throw requiredText('description')
  if (patch.prompt !== undefined && typeof patch.prompt !== 'string')
    throw new AgentError('invalid', 'prompt must be a string', 'prompt')
  for (const field of Object.keys(AGENT_FIELDS) as AgentField[]) {
    const value = patch[field]
    if (value === undefined || value === null) continue
    const problem = kindProblem(AGENT_FIELDS[field], value)
    if (problem) throw new AgentError('invalid', `${field} ${problem}`, field)
  }
}

const requiredText = (field: string) =>
  new AgentError('invalid', `${field} is required (non-empty text)`, field)

function kindProblem(kind: FieldKind, value: unknown): string | undefined {
  switch (kind) {
    case 'names':
      return Array.isArray(value) && value.every((item) => typeof item === 'string' && item.trim() !== '')
        ? undefined
        : 'must be a list of non-empty strings'
    case 'string':
      return typeof value === 'string' && value.trim() !== '' ? undefined : 'must be a non-empty string'
    case 'boolean':
      return typeof value === 'boolean' ? undefined : 'must be true or false'
    case 'positiveInteger':
      return Number.isInteger(value) && (value as number) > 0 ? undefined : 'must be a positive integer'
    case 'effort':
      return (EFFORT_LEVELS as readonly unknown[]).includes(value) ||
        (Number.isInteger(value) && (value as number) > 0)
        ? undefined
        : `must be one of ${EFFORT_LEVELS.join(', ')} or a positive integer`
    case 'mcpServers':
      return Array.isArray(value) && value.every((item) => typeof item === 'string' || isPlainObject(item))
        ? undefined
        : 'must be a list of server names or { name: config } objects'
    case 'object':
      return isPlainObject(value) ? undefined : 'must be an object'
    default:
      return kind.includes(value as string) ? undefined : `must be one of ${kind.join(', ')}`
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}
