/**
 * How the agent routes show agents: an entry of the list (`AgentListItem`) and an agent file with every
 * setting (`AgentConfig`), each schema beside its mapper. The agent routes' plugin registers both.
 */
import { type Static, type TSchema, Type } from '@sinclair/typebox'
import {
  AGENT_FIELDS,
  AGENT_SCOPES,
  type AgentDetails,
  type AgentField,
  type AgentSummary,
} from '../../agents/index.js'
import { Enum, Nullable } from '../responses.js'
import { apiName, FIELDS, kindSchema } from './agent-fields.js'

const LoadError = Type.Optional(Type.String({ description: 'Why Claude Code would not load the file.' }))

export const AgentListItemSchema = Type.Object(
  {
    name: Type.String(),
    description: Nullable(Type.String()),
    tools: Nullable(Type.Array(Type.String()), { description: 'null: every tool.' }),
    model: Nullable(Type.String()),
    scope: Enum([...AGENT_SCOPES, 'builtin']),
    path: Nullable(Type.String({ description: "The agent file; null for Claude Code's own agents." })),
    error: LoadError,
    loaded: Type.Boolean({ description: 'Claude Code loads it: its scope is loaded and the file is valid.' }),
    overridden: Type.Boolean({ description: 'A definition of higher precedence has the same name.' }),
  },
  { $id: 'AgentListItem', description: "An agent: one of an agent file, or one of Claude Code's own." },
)
export type AgentListItem = Static<typeof AgentListItemSchema>

/** An agent file's entry of the list, less whether Claude Code loads it and whether another one wins. */
export function summaryView(agent: AgentSummary): Omit<AgentListItem, 'loaded' | 'overridden'> {
  const { name, description, tools, model, scope, path, error } = agent
  return { name, description, tools, model, scope, path, ...(error ? { error } : {}) }
}

/**
 * A setting as the file has it, null when not set. The reader makes lists of names of the lists and keeps
 * `model` only as text; any other setting of a hand-written file can hold a value of another type, shown
 * as written (so it is documented, and serialised, as such).
 */
function shownSetting(field: AgentField): TSchema {
  if (field === 'model') return Nullable(Type.String())
  const kind = AGENT_FIELDS[field]
  if (kind === 'names') return Nullable(Type.Array(Type.String()))
  return Type.Union([
    kindSchema(kind),
    Type.Null(),
    Type.Unknown({ description: 'A value of another type, as a hand-written file has it.' }),
  ])
}

export const AgentConfigSchema = Type.Object(
  {
    name: Type.String(),
    scope: Enum(AGENT_SCOPES),
    path: Type.String(),
    description: Nullable(Type.String()),
    prompt: Type.String({ description: "The system prompt (the file's body)." }),
    ...Object.fromEntries(FIELDS.map((field) => [apiName(field), shownSetting(field)])),
    other_front_matter: Type.Object(
      {},
      { additionalProperties: true, description: 'Other front matter keys.' },
    ),
    error: LoadError,
  },
  {
    $id: 'AgentConfig',
    description: 'An agent file with every setting (null: not set), as the file has them.',
  },
)

export function configView(agent: AgentDetails): Static<typeof AgentConfigSchema> {
  const settings: Record<string, unknown> = {}
  for (const field of FIELDS) settings[apiName(field)] = agent.settings[field] ?? null
  // These two as the reader reads them (a list of names; text only).
  settings.tools = agent.tools
  settings.model = agent.model
  return {
    name: agent.name,
    scope: agent.scope,
    path: agent.path,
    description: agent.description,
    prompt: agent.prompt,
    ...settings,
    other_front_matter: agent.other,
    ...(agent.error ? { error: agent.error } : {}),
  }
}

export const AGENT_VIEW_SCHEMAS = [AgentListItemSchema, AgentConfigSchema]
