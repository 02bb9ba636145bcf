/**
 * A Chat Completions request in the engine's terms: checked for what Claude Code cannot do, then the
 * session settings it asks for (./settings.ts), the conversation before its new input and the new input
 * itself (./messages.ts), and the keys that let a follow-up request continue the session that answered it.
 */
import { createHash } from 'node:crypto'
import type { Config } from '../../config/index.js'
import type { NewSession } from '../../engine/sessions.js'
import type { UserWorkspaces } from '../../users/workspaces.js'
import { invalidRequest } from './errors.js'
import {
  mergeTurns,
  type NewInput,
  newInput,
  type PartOptions,
  type Turn,
  textOf,
  toTurn,
} from './messages.js'
import type { CatalogueEntry } from './models.js'
import type { ChatCompletionRequest, ChatMessage, FunctionTool, GatewayOptions } from './schema.js'
import { pickOptions, sessionSettings } from './settings.js'
import { checkToolChoice, clientJson } from './tools.js'

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

/** Who sends the request: their workspaces (absent: the configured ones) and their name (null: the operator). */
export interface Caller {
  workspaces?: UserWorkspaces
  owner?: string | null
  /** The built-in tools their user may have (absent: any): `openai.defaultTools` beyond them are left out. */
  allowedTools?: readonly string[]
}

export function planRequest(
  body: ChatCompletionRequest,
  config: Config,
  model: CatalogueEntry,
  caller: Caller = {},
): ChatPlan {
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

  const settings = sessionSettings(
    body,
    options,
    config,
    model,
    system,
    caller.workspaces,
    caller.allowedTools,
  )
  // The owner is part of every key: a conversation is continued only by the user who had it.
  const profileKey = clientJson(
    [caller.owner ?? null, model.id, settings, body.tools ?? [], body.tool_choice ?? null],
    'tools',
  )
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
    maxTokens: settings.maxOutputTokens ?? null,
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

/** OpenAI parameters Claude Code has no equivalent for, refused rather than silently ignored. */
function rejectUnsupported(body: ChatCompletionRequest & Record<string, unknown>): void {
  if (body.n != null && body.n > 1)
    throw invalidRequest('n > 1 is not supported: Claude Code returns one choice.', 'n')
  if (body.logprobs) throw invalidRequest('logprobs are not available from Claude Code.', 'logprobs')
  if (body.top_logprobs)
    throw invalidRequest('top_logprobs are not available from Claude Code.', 'top_logprobs')
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
