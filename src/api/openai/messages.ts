/**
 * A Chat Completions conversation in the engine's terms: the history as real user/assistant turns (text,
 * images, documents, tool calls and their results), and the request's new input (a user turn, or the
 * results of client function calls).
 */
import { isBase64 } from '../../engine/content.js'
import type { ContentBlock } from '../../events/types.js'
import { JsonTooDeepError, parseLimitedJson } from '../json-limits.js'
import { invalidRequest } from './errors.js'
import type { ChatMessage } from './schema.js'

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

const IMAGE_TYPES = new Set(['image/jpeg', 'image/png', 'image/gif', 'image/webp'])
const DATA_URL = /^data:([\w/+.-]+);base64,(.*)$/s
// Refused here rather than by the model API once the turn has started; the text of a text/* file would
// otherwise be decoded from whatever base64 Node could make of it.
const INVALID_BASE64 = 'The data URL must carry non-empty, padded standard base64 data.'
const NOT_CONTENT = 'Content must be a string or an array of content parts.'

export interface PartOptions {
  remoteImages: boolean
  /** `server.maxJsonDepth`: also the limit for JSON sent inside strings (function-call arguments). */
  maxJsonDepth: number
}

/** The new input: the messages after the last assistant one, all user messages or all tool results. */
export function newInput(trailing: { message: ChatMessage; index: number }[], parts: PartOptions): NewInput {
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
      results: tools.map(({ message, index }) => toolResult(message, index)),
    }
  }
  return {
    kind: 'user',
    content: trailing.flatMap(({ message, index }) => userBlocks(message.content, index, parts)),
  }
}

function toolResult(message: ChatMessage, index: number): ToolResult {
  return {
    toolCallId: message.tool_call_id ?? missing(`messages[${index}].tool_call_id`),
    content: textOf(message.content, `messages[${index}].content`),
  }
}

function missing(param: string): never {
  throw invalidRequest(`Missing required parameter: '${param}'.`, param)
}

/** A message of the history as the turn Claude sees. */
export function toTurn(message: ChatMessage, index: number, parts: PartOptions): Turn {
  if (message.role === 'user') return { role: 'user', content: userBlocks(message.content, index, parts) }
  if (message.role === 'tool') {
    const { toolCallId, content } = toolResult(message, index)
    return { role: 'user', content: [{ type: 'tool_result', tool_use_id: toolCallId, content }] }
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
export function mergeTurns(turns: Turn[]): Turn[] {
  const merged: Turn[] = []
  for (const turn of turns) {
    const last = merged.at(-1)
    if (last?.role === turn.role) last.content.push(...turn.content)
    else merged.push({ role: turn.role, content: [...turn.content] })
  }
  return merged
}

/** The text of a message that may hold text only (system, tool, assistant). */
export function textOf(content: unknown, param: string): string {
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
  throw invalidRequest(NOT_CONTENT, param)
}

function userBlocks(content: unknown, index: number, parts: PartOptions): ContentBlock[] {
  const param = `messages[${index}].content`
  if (typeof content === 'string') return [{ type: 'text', text: content }]
  if (!Array.isArray(content)) throw invalidRequest(NOT_CONTENT, param)
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
