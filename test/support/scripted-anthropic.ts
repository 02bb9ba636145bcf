/**
 * A scripted Anthropic Messages API on 127.0.0.1: the real Claude Code CLI talks to it as it would to
 * api.anthropic.com, and each test decides what "the model" answers.
 *
 * Replies are taken in order from a queue (`script()`); when the queue is empty the `fallback` answers.
 * Every request is recorded with its body, so tests can assert on what the model really received.
 */
import { once } from 'node:events'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'

export type ScriptedBlock =
  | { type: 'text'; text: string }
  | { type: 'thinking'; thinking: string; signature?: string }
  | { type: 'tool_use'; name: string; input: Record<string, unknown>; id?: string }

export interface ScriptedMessage {
  blocks: ScriptedBlock[]
  /** Defaults to 'tool_use' when a block calls a tool, else 'end_turn'. */
  stopReason?: 'end_turn' | 'tool_use' | 'max_tokens' | 'stop_sequence'
  usage?: Partial<Usage>
  /** Wait this long before the response starts (status and headers included). */
  delayMs?: number
  /** Wait this long between two streamed deltas. */
  chunkDelayMs?: number
  /** Characters per text/thinking delta; 0 sends each block in one delta. */
  chunkSize?: number
}

export interface ScriptedError {
  error: { status: number; type: string; message: string }
  headers?: Record<string, string>
  delayMs?: number
}

export type ScriptedReply = ScriptedMessage | ScriptedError
export type ReplyFactory = (request: RecordedRequest) => ScriptedReply

interface Usage {
  input_tokens: number
  output_tokens: number
  cache_read_input_tokens: number
  cache_creation_input_tokens: number
}

export interface RecordedRequest {
  method: string
  path: string
  headers: IncomingMessage['headers']
  body: MessagesRequestBody
  receivedAt: number
}

export interface MessagesRequestBody {
  model?: string
  stream?: boolean
  system?: string | { type: string; text: string }[]
  messages?: { role: string; content: string | ContentBlock[] }[]
  tools?: { name: string }[]
  thinking?: { type: string; budget_tokens?: number }
  max_tokens?: number
  [key: string]: unknown
}

export interface ContentBlock {
  type: string
  text?: string
  [key: string]: unknown
}

const DEFAULT_USAGE: Usage = {
  input_tokens: 12,
  output_tokens: 7,
  cache_read_input_tokens: 0,
  cache_creation_input_tokens: 0,
}

export const text = (value: string, extra: Partial<ScriptedMessage> = {}): ScriptedMessage => ({
  blocks: [{ type: 'text', text: value }],
  ...extra,
})

export const toolCall = (name: string, input: Record<string, unknown>): ScriptedMessage => ({
  blocks: [{ type: 'tool_use', name, input }],
})

export const failure = (
  status: number,
  message = `scripted ${status}`,
  type = 'api_error',
): ScriptedError => ({
  error: { status, type, message },
})

/**
 * Replies for the main thread and for its subagents, each list in order (then 'ok'). A subagent's requests
 * are told apart by Claude Code's own marker in their system prompt.
 */
export const mainAndSubagentReplies =
  (main: ScriptedReply[], subagent: ScriptedReply[]): ReplyFactory =>
  (request) => {
    const isSubagent = JSON.stringify(request.body.system ?? '').includes('cc_is_subagent=true')
    return (isSubagent ? subagent : main).shift() ?? text('ok')
  }

/** The text of every block of the last user turn, with the CLI's own <system-reminder> blocks left out. */
export function lastUserText(body: MessagesRequestBody): string {
  const messages = body.messages ?? []
  for (let i = messages.length - 1; i >= 0; i--) {
    const message = messages[i]!
    if (message.role !== 'user') continue
    if (typeof message.content === 'string') return message.content
    const texts = message.content
      .filter((block) => block.type === 'text' && !block.text?.startsWith('<system-reminder>'))
      .map((block) => block.text ?? '')
    if (texts.length > 0) return texts.join('\n')
  }
  return ''
}

/** Every text of the conversation (user and assistant turns) in order, reminders and environment left out. */
export function conversationTexts(body: MessagesRequestBody): { role: string; text: string }[] {
  const out: { role: string; text: string }[] = []
  for (const message of body.messages ?? []) {
    if (message.role !== 'user' && message.role !== 'assistant') continue
    const blocks: ContentBlock[] =
      typeof message.content === 'string' ? [{ type: 'text', text: message.content }] : message.content
    for (const block of blocks) {
      if (block.type === 'text' && block.text && !block.text.startsWith('<system-reminder>')) {
        out.push({ role: message.role, text: block.text })
      }
    }
  }
  return out
}

export class ScriptedAnthropic {
  readonly requests: RecordedRequest[] = []
  fallback: ReplyFactory = () => text('ok')
  private readonly queue: (ScriptedReply | ReplyFactory)[] = []
  private readonly server: Server
  private readonly open = new Set<ServerResponse>()
  private counter = 0

  constructor() {
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((error: unknown) => {
        if (!res.headersSent) res.writeHead(500)
        res.end(String(error))
      })
    })
  }

  async start(): Promise<string> {
    this.server.listen(0, '127.0.0.1')
    await once(this.server, 'listening')
    return this.url
  }

  get url(): string {
    const { port } = this.server.address() as AddressInfo
    return `http://127.0.0.1:${port}`
  }

  /** Queue replies for the next model requests, in order. */
  script(...replies: (ScriptedReply | ReplyFactory)[]): this {
    this.queue.push(...replies)
    return this
  }

  /** Model requests only (the conversation turns), leaving out HEAD probes and token counting. */
  get turns(): RecordedRequest[] {
    return this.requests.filter((r) => r.path.startsWith('/v1/messages') && !r.path.includes('count_tokens'))
  }

  /** Drop replies that were scripted but not asked for (a test that ends its turn early). */
  clearScript(): void {
    this.queue.length = 0
  }

  reset(): void {
    this.queue.length = 0
    this.requests.length = 0
    this.fallback = () => text('ok')
  }

  async stop(): Promise<void> {
    for (const res of this.open) res.destroy()
    this.server.closeAllConnections()
    this.server.close()
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = []
    for await (const chunk of req) chunks.push(chunk as Buffer)
    const raw = Buffer.concat(chunks).toString('utf8')
    const path = req.url ?? '/'
    if (req.method !== 'POST' || !path.startsWith('/v1/messages')) {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}')
      return
    }
    const body = (raw ? JSON.parse(raw) : {}) as MessagesRequestBody
    const request: RecordedRequest = {
      method: req.method,
      path,
      headers: req.headers,
      body,
      receivedAt: Date.now(),
    }
    this.requests.push(request)
    if (path.includes('count_tokens')) {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ input_tokens: 42 }))
      return
    }
    const next = this.queue.shift() ?? this.fallback
    const reply = typeof next === 'function' ? next(request) : next
    if (reply.delayMs) await sleep(reply.delayMs)
    if ('error' in reply) {
      const { status, type, message } = reply.error
      res.writeHead(status, { 'content-type': 'application/json', ...reply.headers })
      res.end(JSON.stringify({ type: 'error', error: { type, message } }))
      return
    }
    const model = body.model ?? 'claude-scripted'
    if (body.stream) await this.stream(res, reply, model)
    else this.respond(res, reply, model)
  }

  private message(reply: ScriptedMessage, model: string) {
    const blocks = reply.blocks.map((block) => {
      if (block.type === 'tool_use') return { ...block, id: block.id ?? this.toolId() }
      if (block.type === 'thinking') return { ...block, signature: block.signature ?? 'scripted-signature' }
      return block
    })
    const stopReason =
      reply.stopReason ?? (blocks.some((block) => block.type === 'tool_use') ? 'tool_use' : 'end_turn')
    const usage = { ...DEFAULT_USAGE, ...reply.usage }
    return {
      id: `msg_scripted_${++this.counter}`,
      type: 'message',
      role: 'assistant',
      model,
      blocks,
      stopReason,
      usage,
    }
  }

  private respond(res: ServerResponse, reply: ScriptedMessage, model: string): void {
    const m = this.message(reply, model)
    res.writeHead(200, { 'content-type': 'application/json', 'request-id': m.id })
    res.end(
      JSON.stringify({
        id: m.id,
        type: 'message',
        role: 'assistant',
        model,
        content: m.blocks,
        stop_reason: m.stopReason,
        stop_sequence: null,
        usage: m.usage,
      }),
    )
  }

  private async stream(res: ServerResponse, reply: ScriptedMessage, model: string): Promise<void> {
    const m = this.message(reply, model)
    this.open.add(res)
    res.on('close', () => this.open.delete(res))
    res.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-cache',
      'request-id': m.id,
    })
    const send = async (event: string, data: object, pause = false): Promise<void> => {
      if (res.destroyed) return
      res.write(`event: ${event}\ndata: ${JSON.stringify({ type: event, ...data })}\n\n`)
      if (pause && reply.chunkDelayMs) await sleep(reply.chunkDelayMs)
    }
    await send('message_start', {
      message: {
        id: m.id,
        type: 'message',
        role: 'assistant',
        model,
        content: [],
        stop_reason: null,
        stop_sequence: null,
        usage: { ...m.usage, output_tokens: 1 },
      },
    })
    for (const [index, block] of m.blocks.entries()) {
      if (block.type === 'text') {
        await send('content_block_start', { index, content_block: { type: 'text', text: '' } })
        for (const piece of split(block.text, reply.chunkSize)) {
          await send('content_block_delta', { index, delta: { type: 'text_delta', text: piece } }, true)
        }
      } else if (block.type === 'thinking') {
        await send('content_block_start', {
          index,
          content_block: { type: 'thinking', thinking: '', signature: '' },
        })
        for (const piece of split(block.thinking, reply.chunkSize)) {
          await send(
            'content_block_delta',
            { index, delta: { type: 'thinking_delta', thinking: piece } },
            true,
          )
        }
        await send('content_block_delta', {
          index,
          delta: { type: 'signature_delta', signature: block.signature },
        })
      } else {
        await send('content_block_start', {
          index,
          content_block: { type: 'tool_use', id: block.id, name: block.name, input: {} },
        })
        await send('content_block_delta', {
          index,
          delta: { type: 'input_json_delta', partial_json: JSON.stringify(block.input) },
        })
      }
      await send('content_block_stop', { index })
    }
    await send('message_delta', {
      delta: { stop_reason: m.stopReason, stop_sequence: null },
      usage: { output_tokens: m.usage.output_tokens },
    })
    await send('message_stop', {})
    res.end()
  }

  private toolId(): string {
    return `toolu_scripted_${(++this.counter).toString().padStart(6, '0')}`
  }
}

function split(value: string, size = 4): string[] {
  if (size <= 0 || value.length <= size) return [value]
  const pieces: string[] = []
  for (let i = 0; i < value.length; i += size) pieces.push(value.slice(i, i + size))
  return pieces
}
