/**
 * A request's client function tools as Claude Code takes them (specs, plus what has no switch asked in
 * words), and the JSON Schemas a client sends (tool parameters, response_format) checked once each.
 */
import { Ajv } from 'ajv'
import type { ClientToolSpec } from '../../store/types.js'
import { invalidRequest } from './errors.js'
import type { ChatCompletionRequest } from './schema.js'

/** The request's functions as client tools of the session; none when it has none or `tool_choice` is none. */
export function clientTools(body: ChatCompletionRequest): ClientToolSpec[] | null {
  if (!body.tools?.length || body.tool_choice === 'none') return null
  return body.tools.map(({ function: fn }, i) => ({
    name: fn.name,
    description: fn.description ?? '',
    parameters: checkedSchema(
      fn.parameters ?? { type: 'object', properties: {} },
      `tools[${i}].function.parameters`,
    ),
  }))
}

/** What Claude Code has no switch for, asked of the model in words (tool choice, one call at a time). */
export function instructionsFor(body: ChatCompletionRequest): string[] {
  const out: string[] = []
  const choice = body.tool_choice
  if (body.tools?.length && choice === 'required')
    out.push('You must answer by calling one or more of the provided functions.')
  if (body.tools?.length && typeof choice === 'object')
    out.push(`You must answer by calling the function \`${choice.function.name}\`.`)
  if (body.tools?.length && body.parallel_tool_calls === false)
    out.push('Call at most one function per answer.')
  return out
}

/**
 * A `tool_choice` that asks for a function must name one of `tools`, as OpenAI requires: a 400 rather than
 * a turn told to call a function it was never given.
 */
export function checkToolChoice(body: ChatCompletionRequest): void {
  const choice = body.tool_choice
  if (choice === undefined || choice === 'none' || choice === 'auto') return
  const tools = body.tools ?? []
  if (tools.length === 0) {
    throw invalidRequest(
      "Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are specified.",
      'tool_choice',
    )
  }
  if (typeof choice === 'object' && !tools.some((tool) => tool.function.name === choice.function.name)) {
    throw invalidRequest(
      `Invalid value for 'tool_choice': no function named '${choice.function.name}' in 'tools'.`,
      'tool_choice',
    )
  }
}

/**
 * JSON text of a client's data, for a key. What passed the edge's nesting limit always serialises; should
 * anything still fail to, that is the request's fault: a 400 naming `param`, never a 500.
 */
export function clientJson(value: unknown, param: string): string {
  try {
    return JSON.stringify(value)
  } catch (error) {
    throw invalidRequest(`The request cannot be serialised: ${(error as Error).message}.`, param)
  }
}

const schemaChecker = new Ajv({ strict: false, allErrors: false })
const checkedSchemas = new Map<string, Record<string, unknown>>()
const CHECKED_SCHEMAS_KEPT = 256

/**
 * A client's JSON Schema as Claude Code takes it: valid (else a 400 naming the parameter, rather than a CLI
 * that refuses to start), and without `$schema`: clients name dialects (zod 4 says draft 2020-12) that
 * Claude Code's checker does not know, while the keywords themselves are fine. Checked once per schema.
 */
export function checkedSchema(schema: Record<string, unknown>, param: string): Record<string, unknown> {
  const key = clientJson(schema, param)
  const known = checkedSchemas.get(key)
  if (known) return known
  const { $schema: _dialect, ...rest } = schema
  try {
    schemaChecker.compile(rest)
  } catch (error) {
    throw invalidRequest(`Invalid JSON Schema: ${(error as Error).message}`, param, 'invalid_schema')
  }
  if (checkedSchemas.size >= CHECKED_SCHEMAS_KEPT) checkedSchemas.delete(checkedSchemas.keys().next().value!)
  checkedSchemas.set(key, rest)
  return rest
}
