/**
 * The optional agent settings in the API's terms: snake_case names (`disallowedTools` → `disallowed_tools`)
 * and a schema per kind of value, derived from the agent module's list (AGENT_FIELDS) so that the request
 * bodies and the answers of the agent routes name and type the same settings.
 */
import { type TSchema, Type } from '@sinclair/typebox'
import {
  AGENT_FIELDS,
  type AgentField,
  type AgentPatch,
  EFFORT_LEVELS,
  type FieldKind,
} from '../../agents/index.js'
import { MAX_INTEGER } from '../validation.js'

/** The API's name of an agent setting. */
export const apiName = (field: string) => field.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)
export const FIELDS = Object.keys(AGENT_FIELDS) as AgentField[]

/** What a setting of `kind` accepts. */
export function kindSchema(kind: FieldKind): TSchema {
  switch (kind) {
    case 'names':
      return Type.Array(Type.String({ minLength: 1 }))
    case 'string':
      return Type.String({ minLength: 1 })
    case 'boolean':
      return Type.Boolean()
    case 'positiveInteger':
      return Type.Integer({ minimum: 1, maximum: MAX_INTEGER })
    case 'effort':
      return Type.Union([
        ...EFFORT_LEVELS.map((level) => Type.Literal(level)),
        Type.Integer({ minimum: 1, maximum: MAX_INTEGER }),
      ])
    case 'mcpServers':
      return Type.Array(
        Type.Union([Type.String({ minLength: 1 }), Type.Object({}, { additionalProperties: true })]),
      )
    case 'object':
      return Type.Object({}, { additionalProperties: true })
    default:
      return Type.Union(kind.map((value) => Type.Literal(value)))
  }
}

/** The settings as body properties, each optional; `nullable`: null removes it (a change). */
export const settingsSchema = (nullable: boolean) =>
  Object.fromEntries(
    FIELDS.map((field) => {
      const schema = kindSchema(AGENT_FIELDS[field])
      return [apiName(field), Type.Optional(nullable ? Type.Union([schema, Type.Null()]) : schema)]
    }),
  )

/** The API's optional settings (snake_case keys) in the agent module's terms. */
export function settingsFrom(body: Record<string, unknown>): AgentPatch {
  const settings: Record<string, unknown> = {}
  for (const field of FIELDS) {
    const value = body[apiName(field)]
    if (value !== undefined) settings[field] = value
  }
  return settings as AgentPatch
}
