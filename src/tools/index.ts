/**
 * The gateway's direct tools: Claude Code's Read, Write, Edit, Glob, Grep and Bash, run by the gateway itself
 * on a session's workspace (`POST /api/sessions/{id}/tools/{name}`), with the same semantics.
 */
import type { Static, TSchema } from '@sinclair/typebox'
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv'
import { bashTool } from './bash.js'
import { ToolError } from './confinement.js'
import { editTool } from './edit.js'
import { globTool } from './glob.js'
import { readTool } from './read.js'
import { searchTool } from './search.js'
import { DEFAULT_TOOL_LIMITS, TOOL_NAMES, type Tool, type ToolLimits, type ToolName } from './types.js'
import { writeTool } from './write.js'

export { type BashResult, bashEnvironment, isSecretVariable } from './bash.js'
export {
  confine,
  confineTo,
  isToolError,
  TOOL_ERROR_STATUS,
  ToolError,
  type ToolErrorCode,
  workspaceRoot,
} from './confinement.js'
export type { EditResult } from './edit.js'
export type { GlobResult } from './glob.js'
export type { ReadResult } from './read.js'
export type { SearchResult } from './search.js'
export * from './types.js'
export type { WriteResult } from './write.js'

/** The result type of each tool, by name. */
export interface ToolResults {
  read: import('./read.js').ReadResult
  write: import('./write.js').WriteResult
  edit: import('./edit.js').EditResult
  glob: import('./glob.js').GlobResult
  search: import('./search.js').SearchResult
  bash: import('./bash.js').BashResult
}

export const TOOLS = {
  read: readTool,
  write: writeTool,
  edit: editTool,
  glob: globTool,
  search: searchTool,
  bash: bashTool,
} as const satisfies { [K in ToolName]: Tool<TSchema, ToolResults[K]> }

export type ToolInput<N extends ToolName> = Static<(typeof TOOLS)[N]['inputSchema']>

export const isToolName = (name: string): name is ToolName => (TOOL_NAMES as readonly string[]).includes(name)

const ajv = new Ajv({ allErrors: false, strict: false })
// Each compiled on its tool's first call, not at import: every start of the gateway would pay for all six.
const validators = new Map<ToolName, ValidateFunction>()
function validatorOf(name: ToolName): ValidateFunction {
  let validate = validators.get(name)
  if (!validate) {
    validate = ajv.compile(TOOLS[name].inputSchema)
    validators.set(name, validate)
  }
  return validate
}

/** The field an ajv error is about, as `a.b[0]`. */
function fieldOf(error: ErrorObject): string {
  const parts = error.instancePath.split('/').filter(Boolean)
  const params = error.params as Record<string, unknown>
  if (typeof params.missingProperty === 'string') parts.push(params.missingProperty)
  if (typeof params.additionalProperty === 'string') parts.push(params.additionalProperty)
  return parts.reduce(
    (name, part) => (/^\d+$/.test(part) ? `${name}[${part}]` : name ? `${name}.${part}` : part),
    '',
  )
}

/** Checks `input` against the tool's schema; `invalid_input` naming the first wrong field. */
export function validateToolInput<N extends ToolName>(name: N, input: unknown): ToolInput<N> {
  const validate = validatorOf(name)
  if (validate(input)) return input as ToolInput<N>
  const error = validate.errors![0]!
  const field = fieldOf(error)
  const params = error.params as Record<string, unknown>
  const message =
    error.keyword === 'required'
      ? `${field} is required`
      : error.keyword === 'additionalProperties'
        ? `${field} is not a parameter of ${name}`
        : error.keyword === 'enum'
          ? `${field} must be one of: ${(params.allowedValues as unknown[]).join(', ')}`
          : `${field || 'input'} ${error.message ?? 'is invalid'}`
  throw new ToolError('invalid_input', message, { field: field || null })
}

export interface RunToolOptions {
  signal?: AbortSignal
  /** bash: the environment for the command (default: the gateway's, less its secrets). */
  env?: NodeJS.ProcessEnv
}

/**
 * Validates `input` and runs tool `name` on `workspace` (the folder is the confinement: every path must
 * resolve inside its real path). Errors are ToolErrors with stable codes; `not_found` for an unknown tool.
 */
export async function runTool<N extends ToolName>(
  name: N,
  workspace: string,
  input: unknown,
  limits?: Partial<ToolLimits>,
  options?: RunToolOptions,
): Promise<ToolResults[N]>
export async function runTool(
  name: string,
  workspace: string,
  input: unknown,
  limits?: Partial<ToolLimits>,
  options?: RunToolOptions,
): Promise<unknown>
export async function runTool(
  name: string,
  workspace: string,
  input: unknown,
  limits: Partial<ToolLimits> = {},
  options: RunToolOptions = {},
): Promise<unknown> {
  if (!isToolName(name)) throw new ToolError('not_found', `no tool named ${name}`, { tool: name })
  const valid = validateToolInput(name, input)
  const tool = TOOLS[name] as Tool<TSchema, unknown>
  const set = Object.fromEntries(Object.entries(limits).filter(([, value]) => value !== undefined))
  return tool.run(workspace, valid, {
    limits: { ...DEFAULT_TOOL_LIMITS, ...set },
    ...(options.signal ? { signal: options.signal } : {}),
    ...(options.env ? { env: options.env } : {}),
  })
}

/** The tools' documentation, for `GET /api/tools`. */
export function describeTools(): {
  name: ToolName
  claudeCodeName: string
  description: string
  inputSchema: TSchema
}[] {
  return TOOL_NAMES.map((name) => {
    const { claudeCodeName, description, inputSchema } = TOOLS[name]
    return { name, claudeCodeName, description, inputSchema }
  })
}
