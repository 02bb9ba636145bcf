/**
 * A form from a direct tool's input schema (GET /api/tools): one field per property, of a kind its JSON
 * Schema type says, and the tool's input from what was typed. Pure: node:test checks it.
 */
import type { JsonSchema } from '../../api/types/tools.js'

export type FieldKind = 'text' | 'multiline' | 'integer' | 'number' | 'boolean' | 'choice' | 'json'

export interface FormField {
  name: string
  kind: FieldKind
  required: boolean
  description: string
  /** For `choice`: the values allowed. */
  options: string[]
  minimum?: number
  maximum?: number
}

/** Text worth several lines: a file's content, an edit's strings, a shell command. */
const MULTILINE = new Set(['content', 'old_string', 'new_string', 'command'])

export function fieldsOf(schema: JsonSchema): FormField[] {
  const required = new Set(schema.required ?? [])
  return Object.entries(schema.properties ?? {}).map(([name, property]) => ({
    name,
    kind: kindOf(name, property),
    required: required.has(name),
    description: property.description ?? '',
    options: (property.enum ?? []).map(String),
    ...(property.minimum !== undefined ? { minimum: property.minimum } : {}),
    ...(property.maximum !== undefined ? { maximum: property.maximum } : {}),
  }))
}

function kindOf(name: string, property: JsonSchema): FieldKind {
  if (property.enum) return 'choice'
  switch (property.type) {
    case 'string':
      return MULTILINE.has(name) ? 'multiline' : 'text'
    case 'integer':
      return 'integer'
    case 'number':
      return 'number'
    case 'boolean':
      return 'boolean'
    default:
      return 'json'
  }
}

/** What was typed, by field name: text as typed; booleans as '', 'true' or 'false' (unset, yes, no). */
export type FormValues = Record<string, string>

/**
 * The tool's input: blank optional fields left out (the tool's defaults apply), numbers and JSON parsed.
 * `errors` names the fields that cannot be sent as typed; the tool checks the rest itself.
 */
export function inputOf(
  fields: readonly FormField[],
  values: FormValues,
): { input: Record<string, unknown>; errors: Record<string, string> } {
  const input: Record<string, unknown> = {}
  const errors: Record<string, string> = {}
  for (const field of fields) {
    const raw = values[field.name] ?? ''
    // An empty string is a value for content and edits (write an empty file); blank elsewhere means unset.
    const blank = field.kind === 'multiline' ? raw === '' : raw.trim() === ''
    if (blank) {
      if (field.required && field.kind !== 'multiline') errors[field.name] = 'Required.'
      else if (field.required) input[field.name] = ''
      continue
    }
    switch (field.kind) {
      case 'integer':
      case 'number': {
        const value = Number(raw)
        if (!Number.isFinite(value) || (field.kind === 'integer' && !Number.isInteger(value)))
          errors[field.name] = field.kind === 'integer' ? 'A whole number.' : 'A number.'
        else input[field.name] = value
        break
      }
      case 'boolean':
        input[field.name] = raw === 'true'
        break
      case 'json':
        try {
          input[field.name] = JSON.parse(raw)
        } catch {
          errors[field.name] = 'Not valid JSON.'
        }
        break
      default:
        input[field.name] = raw
    }
  }
  return { input, errors }
}

/** An API error's `field` (`body.file_path`) as the form's field name, when it is one of them. */
export function formFieldOf(field: string | undefined, fields: readonly FormField[]): string | undefined {
  const name = field?.replace(/^body\./, '').split(/[.[]/)[0]
  return fields.some((each) => each.name === name) ? name : undefined
}
