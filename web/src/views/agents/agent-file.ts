/**
 * An agent as the editor holds it (a draft), and the two ways to edit it: the form's fields and the raw
 * agent file (Markdown with YAML front matter, the body being the prompt), each turned into the other, and
 * the draft turned into what the agent routes accept (`POST /api/agents`, `PUT /api/agents/{name}/config`).
 * The routes take fields, not file text: a file is parsed here the way Claude Code (src/agents/format.ts)
 * reads it, and keys the routes cannot write are refused here, by name, before anything is sent.
 */
import { Document, parseDocument } from 'yaml'
import type { AgentConfig, AgentScope } from '../../api/types/agents.js'

/**
 * The front matter keys Claude Code reads as agent settings, in the order a new file lists them (mirrors
 * AGENT_FIELDS of src/agents/format.ts). Lists of names are written `Read, Grep` as Claude Code documents.
 */
export const AGENT_SETTINGS = [
  'tools',
  'disallowedTools',
  'model',
  'color',
  'permissionMode',
  'effort',
  'maxTurns',
  'autoCompactWindow',
  'skills',
  'mcpServers',
  'initialPrompt',
  'background',
  'omitClaudeMd',
  'memory',
  'isolation',
  'observer',
  'observerMessage',
  'hooks',
] as const
export type AgentSetting = (typeof AGENT_SETTINGS)[number]

const NAME_LISTS: ReadonlySet<string> = new Set(['tools', 'disallowedTools', 'skills'])
const SETTINGS: ReadonlySet<string> = new Set(AGENT_SETTINGS)

/** Names the gateway writes: lower case, digits and dashes. */
export const AGENT_NAME = /^[a-z0-9][a-z0-9-]{0,63}$/

export interface AgentDraft {
  name: string
  description: string
  prompt: string
  /** The settings that are set, by front matter key (`maxTurns`); lists of names as arrays. */
  settings: Partial<Record<AgentSetting, unknown>>
  /** Front matter keys that are no agent setting: kept by the gateway, not writable through the API. */
  other: Record<string, unknown>
}

export const EMPTY_DRAFT: AgentDraft = { name: '', description: '', prompt: '', settings: {}, other: {} }

/** Problems by field: a draft key (`name`, `maxTurns`), `workspace`, `scope`, `file` or `form`. */
export type FieldErrors = Record<string, string>

/** The API's name of a setting: `maxTurns` → `max_turns`. */
export const apiName = (key: string) => key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)
const settingOf = (api: string) => api.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase())

/** The draft of an agent file as GET /api/agents/{name}/config answers it. */
export function draftOf(config: AgentConfig): AgentDraft {
  const settings: AgentDraft['settings'] = {}
  for (const key of AGENT_SETTINGS) {
    const value = config[apiName(key)]
    if (value !== null && value !== undefined) settings[key] = value
  }
  return {
    name: config.name,
    description: config.description ?? '',
    prompt: config.prompt,
    settings,
    other: { ...config.other_front_matter },
  }
}

/** The agent file of a draft, as the gateway would write it. */
export function fileOf(draft: AgentDraft): string {
  const document = new Document({ name: draft.name, description: draft.description })
  for (const key of AGENT_SETTINGS) {
    const value = draft.settings[key]
    if (value !== undefined) document.set(key, listText(key, value))
  }
  for (const [key, value] of Object.entries(draft.other)) document.set(key, value)
  return `---\n${document.toString({ lineWidth: 0 })}---\n\n${draft.prompt.trim()}\n`
}

function listText(key: string, value: unknown): unknown {
  if (key === 'skills' || !NAME_LISTS.has(key) || !Array.isArray(value)) return value
  const names = value.map(String)
  return names.length > 0 && names.every((name) => !name.includes(',')) ? names.join(', ') : names
}

const FRONT_MATTER = /^---[ \t]*\r?\n(?:([\s\S]*?)\r?\n)?---[ \t]*(?:\r?\n|$)/

export type Parsed = { draft: AgentDraft; error?: undefined } | { draft?: undefined; error: string }

/** The draft of an agent file's text, or why it cannot be read (as Claude Code would say). */
export function parseFile(text: string): Parsed {
  const source = text.replace(/^\uFEFF/, '')
  const match = FRONT_MATTER.exec(source)
  if (!match)
    return { error: 'No front matter: the file must start with a line "---", its keys, then "---".' }
  const document = parseDocument(match[1] ?? '', { prettyErrors: true })
  const [problem] = document.errors
  if (problem) return { error: `Front matter: ${problem.message.split('\n')[0]}` }
  const data: unknown = document.toJS()
  if (data !== null && data !== undefined && (typeof data !== 'object' || Array.isArray(data)))
    return { error: 'Front matter: not a mapping of keys to values.' }
  const draft: AgentDraft = { ...EMPTY_DRAFT, settings: {}, other: {} }
  draft.prompt = source.slice(match[0].length).trim()
  for (const [key, value] of Object.entries((data ?? {}) as Record<string, unknown>)) {
    if (key === 'name' || key === 'description') draft[key] = value == null ? '' : String(value)
    else if (!SETTINGS.has(key)) draft.other[key] = value
    else if (value !== null && value !== undefined)
      draft.settings[key as AgentSetting] = NAME_LISTS.has(key) ? nameList(value) : value
  }
  return { draft }
}

/** `Read, Grep` or a list, as Claude Code reads both. */
export function nameList(value: unknown): string[] {
  const items = Array.isArray(value) ? value.map(String) : String(value).split(',')
  return items.map((item) => item.trim()).filter(Boolean)
}

/** What the editor can check before sending: the API says the rest, by field. */
export function checkDraft(draft: AgentDraft): FieldErrors {
  const errors: FieldErrors = {}
  if (!AGENT_NAME.test(draft.name))
    errors.name = '1 to 64 lower-case letters, digits or dashes, not starting with a dash.'
  if (!draft.description.trim()) errors.description = 'Say when Claude should use this agent.'
  return errors
}

/** `POST /api/agents`: the whole draft. Keys the API cannot write are refused by name. */
export function createBody(
  draft: AgentDraft,
  scope: AgentScope,
  workspace: string,
): { body: Record<string, unknown>; errors?: undefined } | { body?: undefined; errors: FieldErrors } {
  const errors = checkDraft(draft)
  const unknown = Object.keys(draft.other)
  if (unknown.length > 0) errors.file = notWritable(unknown)
  if (scope === 'project' && !workspace.trim()) errors.workspace = 'A project agent needs its workspace.'
  if (Object.keys(errors).length > 0) return { errors }
  const body: Record<string, unknown> = {
    name: draft.name,
    description: draft.description,
    prompt: draft.prompt,
    scope,
  }
  if (scope === 'project') body.workspace = workspace.trim()
  for (const [key, value] of Object.entries(draft.settings)) body[apiName(key)] = value
  return { body }
}

/**
 * `PUT /api/agents/{name}/config`: what changed from `original` (a removed setting is null); empty when
 * nothing did. Renaming, and changing keys that are no agent setting, are refused by name.
 */
export function patchOf(
  original: AgentDraft,
  draft: AgentDraft,
): { body: Record<string, unknown>; errors?: undefined } | { body?: undefined; errors: FieldErrors } {
  // The name is the file's own, whatever its form (hand-written files need not follow the gateway's).
  const { description } = checkDraft(draft)
  const errors: FieldErrors = description ? { description } : {}
  if (draft.name !== original.name) errors.name = 'An agent cannot be renamed: create one with the new name.'
  const changedOther = [...new Set([...Object.keys(original.other), ...Object.keys(draft.other)])].filter(
    (key) => !same(original.other[key], draft.other[key]),
  )
  if (changedOther.length > 0) errors.file = notWritable(changedOther)
  if (Object.keys(errors).length > 0) return { errors }
  const body: Record<string, unknown> = {}
  if (draft.description !== original.description) body.description = draft.description
  if (draft.prompt.trim() !== original.prompt.trim()) body.prompt = draft.prompt
  for (const key of AGENT_SETTINGS) {
    const before = original.settings[key]
    const after = draft.settings[key]
    if (after === undefined && before !== undefined) body[apiName(key)] = null
    else if (after !== undefined && !same(before, after)) body[apiName(key)] = after
  }
  return { body }
}

const notWritable = (keys: string[]) =>
  `${keys.join(', ')}: not an agent setting, so the gateway cannot write ${keys.length > 1 ? 'them' : 'it'}` +
  ' (edit the file itself for that).'

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b)

/**
 * Where an API error belongs in the editor: its `field` (`body.max_turns`, `querystring.workspace`) as a
 * draft key; errors about no field go to the form as a whole.
 */
export function errorField(field: string | undefined): string {
  if (!field) return 'form'
  const name = field.replace(/^(body|querystring)\./, '').replace(/\[\d+\]$/, '')
  if (name === 'workspace' || name === 'scope') return name
  return settingOf(name)
}
