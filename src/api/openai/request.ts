/**
 * A Chat Completions request in the engine's terms: the session settings it asks for, the conversation
 * before its new input (as real user/assistant turns), and the new input itself (a user turn, or the
 * results of client function calls).
 */
import { createHash } from 'node:crypto'
import { Ajv } from 'ajv'
import type { Config } from '../../config/index.js'
import { isBase64 } from '../../engine/content.js'
import type { NewSession } from '../../engine/sessions.js'
import type { ContentBlock } from '../../events/types.js'
import type { ClientToolSpec, Effort, PermissionMode, ThinkingSetting } from '../../store/types.js'
import { JsonTooDeepError, parseLimitedJson } from '../json-limits.js'
import { defaultWorkspaceUnder, workspaceUnder } from '../workspaces.js'
import { invalidRequest } from './errors.js'
import type { CatalogueEntry } from './models.js'
import { type ChatCompletionRequest, type ChatMessage, type FunctionTool, GatewayOptions } from './schema.js'

export interface Turn {
  role: 'user' | 'assistant'
  content: ContentBlock[]
}

export interface ToolResult {
  toolCallId: string
  content: string
}

export type NewInput =
  | { kind: 'user'; content: ContentBlock[] }
  | { kind: 'tool_results'; results: ToolResult[] }

export interface ChatPlan {
  settings: NewSession
  /** Everything before the new input, as the turns Claude must see. */
  history: Turn[]
  input: NewInput
  /** Identifies "this configuration + this history": a live session that answered it can continue. */
  historyKey: string
  /** The part of every key that stays the same within a conversation (model, system, options). */
  profileKey: string
  /** The request's user, assistant and tool messages: with the answer appended, the next request's history. */
  conversation: ChatMessage[]
  stream: boolean
  includeUsage: boolean
  stop: string[]
  /** The answer is JSON (response_format json_object/json_schema). */
  json: boolean
  tools: FunctionTool[]
  sessionId: string | undefined
  maxTokens: number | null
}

const IMAGE_TYPES = new Set(['image/jpeg', 'image/png', 'image/gif', 'image/webp'])
const DATA_URL = /^data:([\w/+.-]+);base64,(.*)$/s
// Refused here rather than by the model API once the turn has started; the text of a text/* file would
// otherwise be decoded from whatever base64 Node could make of it.
const INVALID_BASE64 = 'The data URL must carry non-empty, padded standard base64 data.'

export function planRequest(body: ChatCompletionRequest, config: Config, model: CatalogueEntry): ChatPlan {
  if (body.n != null && body.n > 1)
    throw invalidRequest('n > 1 is not supported: Claude Code returns one choice.', 'n')
  if (body.logprobs) throw invalidRequest('logprobs are not available from Claude Code.', 'logprobs')
  if (body.top_logprobs)
    throw invalidRequest('top_logprobs are not available from Claude Code.', 'top_logprobs')
  rejectUnsupported(body as ChatCompletionRequest & Record<string, unknown>)
  checkToolChoice(body)
  const options: GatewayOptions = { ...pickOptions(body), ...body.extra_body }

  const system: string[] = []
  const conversation: { message: ChatMessage; index: number }[] = []
  body.messages.forEach((message, index) => {
    if (message.role === 'system' || message.role === 'developer')
      system.push(textOf(message.content, `messages[${index}].content`))
    else if (message.role === 'function')
      throw invalidRequest(
        "The 'function' role is deprecated: use 'tool' messages.",
        `messages[${index}].role`,
      )
    else conversation.push({ message, index })
  })
  const lastAssistant = conversation.findLastIndex(({ message }) => message.role === 'assistant')
  const trailing = conversation.slice(lastAssistant + 1)
  if (trailing.length === 0) {
    throw invalidRequest('The conversation must end with a user or tool message.', 'messages')
  }
  const parts: PartOptions = {
    remoteImages: config.openai.remoteImages,
    maxJsonDepth: config.server.maxJsonDepth,
  }
  const input = newInput(trailing, parts)
  const history = mergeTurns(
    conversation.slice(0, lastAssistant + 1).map(({ message, index }) => toTurn(message, index, parts)),
  )

  const settings = sessionSettings(body, options, config, model, system)
  const profileKey = clientJson([model.id, settings, body.tools ?? [], body.tool_choice ?? null], 'tools')
  return {
    settings,
    history,
    input,
    historyKey: conversationKey(
      profileKey,
      conversation.slice(0, lastAssistant + 1).map(({ message }) => message),
    ),
    profileKey,
    conversation: conversation.map(({ message }) => message),
    stream: body.stream === true,
    includeUsage: body.stream_options?.include_usage === true,
    stop: typeof body.stop === 'string' ? [body.stop] : (body.stop ?? []),
    json: body.response_format?.type === 'json_object' || body.response_format?.type === 'json_schema',
    tools: body.tool_choice === 'none' ? [] : (body.tools ?? []),
    sessionId: options.session_id,
    maxTokens: body.max_completion_tokens ?? body.max_tokens ?? null,
  }
}

/**
 * The key of a conversation so far: what a follow-up request's history hashes to once the client has
 * appended the assistant's answer. Only what clients send back verbatim counts (roles, text, tool calls);
 * reasoning fields are left out because clients differ in whether they return them.
 */
export function conversationKey(profileKey: string, messages: readonly ChatMessage[]): string {
  const hash = createHash('sha256').update(profileKey)
  for (const message of messages) {
    hash.update('\u0000')
    hash.update(
      clientJson(
        [
          message.role,
          normalizedContent(message.content),
          message.tool_call_id ?? null,
          toolCallsKey(message),
        ],
        'messages',
      ),
    )
  }
  return hash.digest('base64url')
}

function toolCallsKey(message: ChatMessage): unknown {
  return (message.tool_calls ?? []).map((call) => [
    call.id,
    call.function.name,
    canonicalArguments(call.function.arguments),
  ])
}

/**
 * JSON text of a client's data, for a key. What passed the edge's nesting limit always serialises; should
 * anything still fail to, that is the request's fault: a 400 naming `param`, never a 500.
 */
function clientJson(value: unknown, param: string): string {
  try {
    return JSON.stringify(value)
  } catch (error) {
    throw invalidRequest(`The request cannot be serialised: ${(error as Error).message}.`, param)
  }
}

function canonicalArguments(text: string): string {
  try {
    return JSON.stringify(JSON.parse(text))
  } catch {
    return text
  }
}

function normalizedContent(content: unknown): unknown {
  if (content === null || content === undefined) return ''
  if (typeof content === 'string') return content
  if (!Array.isArray(content)) return content
  const parts = content as { type?: string; text?: string }[]
  if (parts.every((part) => part.type === 'text')) return parts.map((part) => part.text ?? '').join('')
  return parts
}

/** The gateway's own keys sent top-level (OpenAI SDKs merge `extra_body` into the body). */
function pickOptions(body: ChatCompletionRequest): GatewayOptions {
  const picked: Record<string, unknown> = {}
  for (const key of Object.keys(GatewayOptions.properties)) {
    const value = (body as Record<string, unknown>)[key]
    if (value !== undefined) picked[key] = value
  }
  return picked as GatewayOptions
}

function sessionSettings(
  body: ChatCompletionRequest,
  options: GatewayOptions,
  config: Config,
  model: CatalogueEntry,
  system: string[],
): NewSession {
  const { openai } = config
  const requested = options.allowed_tools ?? []
  for (const [i, tool] of requested.entries()) {
    if (!openai.requestableTools.includes(tool)) {
      throw invalidRequest(
        `Tool '${tool}' may not be enabled by requests; this gateway allows: ${openai.requestableTools.join(', ') || 'none'}.`,
        `allowed_tools[${i}]`,
      )
    }
  }
  const configured = config.claude.permissionMode
  const permissionMode = (options.permission_mode ??
    (openai.permissionModes.includes(configured) ? configured : 'default')) as PermissionMode
  if (!openai.permissionModes.includes(permissionMode)) {
    throw invalidRequest(
      `Permission mode '${options.permission_mode}' is not allowed; this gateway allows: ${openai.permissionModes.join(', ')}.`,
      'permission_mode',
    )
  }
  if (options.agent && !openai.requestableAgents.includes(options.agent)) {
    throw invalidRequest(
      `Agent '${options.agent}' may not be chosen by requests; this gateway allows: ${openai.requestableAgents.join(', ') || 'none'}.`,
      'agent',
    )
  }
  const tools = [...new Set([...openai.defaultTools, ...requested])]
  const append = [...system, ...instructionsFor(body), options.append_system_prompt ?? '']
    .filter(Boolean)
    .join('\n\n')
  return {
    workspace: options.workspace
      ? confinedWorkspace(options.workspace, openai.workspaceRoots)
      : confinedDefaultWorkspace(config, openai.workspaceRoots),
    model: model.claudeModel,
    agent: options.agent ?? null,
    permissionMode,
    tools,
    allowedTools: tools,
    disallowedTools: options.disallowed_tools ?? [],
    systemPrompt: null,
    appendSystemPrompt: append || null,
    thinking: thinkingSetting(body, options),
    effort: effortOf(body.reasoning_effort),
    outputSchema: outputSchema(body),
    maxOutputTokens: body.max_completion_tokens ?? body.max_tokens ?? null,
    maxTurns: options.max_turns ?? null,
    clientTools: clientTools(body),
    additionalDirectories: [],
    askPermissions: false,
  }
}

function clientTools(body: ChatCompletionRequest): ClientToolSpec[] | null {
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
function instructionsFor(body: ChatCompletionRequest): string[] {
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
function checkToolChoice(body: ChatCompletionRequest): void {
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

/** OpenAI parameters Claude Code has no equivalent for, refused rather than silently ignored. */
function rejectUnsupported(body: Record<string, unknown>): void {
  if (body.functions !== undefined || body.function_call !== undefined) {
    const param = body.functions !== undefined ? 'functions' : 'function_call'
    throw invalidRequest(
      "'functions' and 'function_call' are deprecated: use 'tools' and 'tool_choice'.",
      param,
    )
  }
  if (body.logit_bias && Object.keys(body.logit_bias).length > 0) {
    throw invalidRequest('logit_bias is not available from Claude Code.', 'logit_bias')
  }
  if (body.audio !== undefined || (Array.isArray(body.modalities) && body.modalities.includes('audio'))) {
    throw invalidRequest(
      'Audio output is not available from Claude Code.',
      body.audio !== undefined ? 'audio' : 'modalities',
    )
  }
  if (body.prediction !== undefined) {
    throw invalidRequest('Predicted outputs are not available from Claude Code.', 'prediction')
  }
}

function thinkingSetting(body: ChatCompletionRequest, options: GatewayOptions): ThinkingSetting | null {
  if (options.thinking?.type === 'enabled')
    return { type: 'enabled', budgetTokens: options.thinking.budget_tokens }
  if (options.thinking) return { type: options.thinking.type }
  if (body.reasoning_effort === 'none') return { type: 'disabled' }
  return null
}

function effortOf(effort: ChatCompletionRequest['reasoning_effort']): Effort | null {
  switch (effort) {
    case undefined:
    case 'none':
      return null
    case 'minimal':
      return 'low'
    default:
      return effort as Effort
  }
}

function outputSchema(body: ChatCompletionRequest): Record<string, unknown> | null {
  const format = body.response_format
  if (format?.type === 'json_schema') {
    return checkedSchema(
      format.json_schema.schema ?? { type: 'object' },
      'response_format.json_schema.schema',
    )
  }
  if (format?.type === 'json_object') return { type: 'object', additionalProperties: true }
  return null
}

const schemaChecker = new Ajv({ strict: false, allErrors: false })
const checkedSchemas = new Map<string, Record<string, unknown>>()
const CHECKED_SCHEMAS_KEPT = 256

/**
 * A client's JSON Schema as Claude Code takes it: valid (else a 400 naming the parameter, rather than a CLI
 * that refuses to start), and without `$schema`: clients name dialects (zod 4 says draft 2020-12) that
 * Claude Code's checker does not know, while the keywords themselves are fine. Checked once per schema.
 */
function checkedSchema(schema: Record<string, unknown>, param: string): Record<string, unknown> {
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

/** A requested workspace must resolve (symlinks included) to a folder under one of the configured roots. */
function confinedWorkspace(requested: string, roots: readonly string[]): string {
  if (roots.length === 0) {
    throw invalidRequest(
      'This gateway does not let requests choose a workspace (openai.workspaceRoots is empty).',
      'workspace',
    )
  }
  const resolved = workspaceUnder(requested, roots)
  if ('problem' in resolved) throw invalidRequest(`${resolved.problem}.`, 'workspace')
  return resolved.path
}

/**
 * The default workspace of a request that names none. Where requests may choose workspaces it must be under
 * the same roots; where they may not (no roots), the default is the only one /v1 uses, the operator's
 * choice (undefined: the engine applies it).
 */
function confinedDefaultWorkspace(config: Config, roots: readonly string[]): string | undefined {
  if (roots.length === 0) return undefined
  const resolved = defaultWorkspaceUnder(config, roots, 'openai.workspaceRoots')
  if ('problem' in resolved) throw invalidRequest(`${resolved.problem}.`, 'workspace')
  return resolved.path
}

interface PartOptions {
  remoteImages: boolean
  /** `server.maxJsonDepth`: also the limit for JSON sent inside strings (function-call arguments). */
  maxJsonDepth: number
}

function newInput(trailing: { message: ChatMessage; index: number }[], parts: PartOptions): NewInput {
  const tools = trailing.filter(({ message }) => message.role === 'tool')
  if (tools.length > 0) {
    const stray = trailing.find(({ message }) => message.role !== 'tool')
    if (stray)
      throw invalidRequest(
        'After tool results, send them alone; a new user message goes in the next request.',
        `messages[${stray.index}]`,
      )
    return {
      kind: 'tool_results',
      results: tools.map(({ message, index }) => ({
        toolCallId: message.tool_call_id ?? missing(`messages[${index}].tool_call_id`),
        content: textOf(message.content, `messages[${index}].content`),
      })),
    }
  }
  return {
    kind: 'user',
    content: trailing.flatMap(({ message, index }) => userBlocks(message.content, index, parts)),
  }
}

function missing(param: string): never {
  throw invalidRequest(`Missing required parameter: '${param}'.`, param)
}

function toTurn(message: ChatMessage, index: number, parts: PartOptions): Turn {
  if (message.role === 'user') return { role: 'user', content: userBlocks(message.content, index, parts) }
  if (message.role === 'tool') {
    return {
      role: 'user',
      content: [
        {
          type: 'tool_result',
          tool_use_id: message.tool_call_id ?? missing(`messages[${index}].tool_call_id`),
          content: textOf(message.content, `messages[${index}].content`),
        },
      ],
    }
  }
  const blocks: ContentBlock[] = []
  for (const block of message.thinking_blocks ?? []) {
    if (block.type === 'thinking' && typeof (block as { signature?: unknown }).signature === 'string')
      blocks.push(block)
  }
  const text = message.content == null ? '' : textOf(message.content, `messages[${index}].content`)
  if (text) blocks.push({ type: 'text', text })
  for (const [i, call] of (message.tool_calls ?? []).entries()) {
    blocks.push({
      type: 'tool_use',
      id: call.id,
      name: call.function.name,
      input: parseArguments(
        call.function.arguments,
        `messages[${index}].tool_calls[${i}].function.arguments`,
        parts.maxJsonDepth,
      ),
    })
  }
  return { role: 'assistant', content: blocks }
}

/** Function-call arguments become the call's input in the history: JSON, held to a body's nesting limit. */
function parseArguments(text: string, param: string, maxDepth: number): unknown {
  try {
    return text ? parseLimitedJson(text, maxDepth) : {}
  } catch (error) {
    if (error instanceof JsonTooDeepError) throw invalidRequest(`${error.message}.`, param, 'json_too_deep')
    throw invalidRequest('Function arguments must be a JSON object.', param)
  }
}

/** Consecutive turns of one role become one (the Messages API alternates roles). */
function mergeTurns(turns: Turn[]): Turn[] {
  const merged: Turn[] = []
  for (const turn of turns) {
    const last = merged.at(-1)
    if (last?.role === turn.role) last.content.push(...turn.content)
    else merged.push({ role: turn.role, content: [...turn.content] })
  }
  return merged
}

function textOf(content: unknown, param: string): string {
  if (typeof content === 'string') return content
  if (Array.isArray(content)) {
    return content
      .map((part: { type?: string; text?: unknown }, i) => {
        if (part?.type === 'text' && typeof part.text === 'string') return part.text
        if (part?.type === 'refusal') return ''
        throw invalidRequest(`Only text parts are allowed here, got '${part?.type}'.`, `${param}[${i}]`)
      })
      .join('')
  }
  throw invalidRequest('Content must be a string or an array of content parts.', param)
}

function userBlocks(content: unknown, index: number, parts: PartOptions): ContentBlock[] {
  const param = `messages[${index}].content`
  if (typeof content === 'string') return [{ type: 'text', text: content }]
  if (!Array.isArray(content))
    throw invalidRequest('Content must be a string or an array of content parts.', param)
  return content.map((part: Record<string, unknown>, i) => contentPart(part, `${param}[${i}]`, parts))
}

function contentPart(part: Record<string, unknown>, param: string, parts: PartOptions): ContentBlock {
  switch (part?.type) {
    case 'text':
      if (typeof part.text !== 'string')
        throw invalidRequest('A text part needs a string `text`.', `${param}.text`)
      return { type: 'text', text: part.text }
    case 'image_url':
      return imageBlock(part.image_url as { url?: unknown } | undefined, `${param}.image_url.url`, parts)
    case 'file':
      return documentBlock(
        part.file as { file_data?: unknown; file_id?: unknown; filename?: unknown } | undefined,
        `${param}.file`,
      )
    default:
      throw invalidRequest(
        `Content part type '${String(part?.type)}' is not supported; use text, image_url or file.`,
        `${param}.type`,
      )
  }
}

function imageBlock(image: { url?: unknown } | undefined, param: string, parts: PartOptions): ContentBlock {
  const url = image?.url
  if (typeof url !== 'string') throw invalidRequest('An image_url part needs a `url`.', param)
  const data = DATA_URL.exec(url)
  if (data) {
    const mediaType = data[1]!.toLowerCase()
    if (!IMAGE_TYPES.has(mediaType))
      throw invalidRequest(`Image type '${mediaType}' is not supported; use JPEG, PNG, GIF or WebP.`, param)
    if (!isBase64(data[2]!)) throw invalidRequest(INVALID_BASE64, param)
    return { type: 'image', source: { type: 'base64', media_type: mediaType, data: data[2] } }
  }
  if (/^https?:\/\//i.test(url)) {
    if (!parts.remoteImages)
      throw invalidRequest(
        'Remote image URLs are disabled on this gateway (openai.remoteImages); send the image as a base64 data URL.',
        param,
      )
    return { type: 'image', source: { type: 'url', url } }
  }
  throw invalidRequest(
    'An image URL must be a base64 data URL (data:image/png;base64,...) or an http(s) URL.',
    param,
  )
}

function documentBlock(
  file: { file_data?: unknown; file_id?: unknown; filename?: unknown } | undefined,
  param: string,
): ContentBlock {
  if (typeof file?.file_id === 'string')
    throw invalidRequest(
      'Uploaded file ids are not supported; send the file inline as file_data.',
      `${param}.file_id`,
    )
  const data = typeof file?.file_data === 'string' ? DATA_URL.exec(file.file_data) : null
  if (!data)
    throw invalidRequest(
      'A file part needs `file_data` as a base64 data URL (data:application/pdf;base64,...).',
      `${param}.file_data`,
    )
  const mediaType = data[1]!.toLowerCase()
  if (!isBase64(data[2]!)) throw invalidRequest(INVALID_BASE64, `${param}.file_data`)
  const title = typeof file?.filename === 'string' ? { title: file.filename } : {}
  if (mediaType === 'application/pdf')
    return { type: 'document', source: { type: 'base64', media_type: mediaType, data: data[2] }, ...title }
  if (mediaType.startsWith('text/')) {
    return {
      type: 'document',
      source: {
        type: 'text',
        media_type: 'text/plain',
        data: Buffer.from(data[2]!, 'base64').toString('utf8'),
      },
      ...title,
    }
  }
  throw invalidRequest(
    `File type '${mediaType}' is not supported; use PDF or plain text.`,
    `${param}.file_data`,
  )
}
