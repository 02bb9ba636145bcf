/**
 * Builds one Chat Completions answer from a turn's events: the deltas a stream sends as they come, and
 * the whole message, usage and finish reason at the end. Streaming and non-streaming share it, so both
 * give the same content.
 */
import { Paragraphs } from '../../events/paragraphs.js'
import type { ContentBlock, EventOf, GatewayEvent, TokenUsage } from '../../events/types.js'

export interface Delta {
  content?: string
  reasoning_content?: string
  tool_calls?: ToolCallDelta[]
}

export interface ToolCallDelta {
  index: number
  id?: string
  type?: 'function'
  function: { name?: string; arguments: string }
}

export interface ToolCall {
  id: string
  type: 'function'
  function: { name: string; arguments: string }
}

export type FinishReason = 'stop' | 'length' | 'tool_calls' | 'content_filter'

export interface Usage {
  prompt_tokens: number
  completion_tokens: number
  total_tokens: number
  prompt_tokens_details: { cached_tokens: number; audio_tokens: number }
  completion_tokens_details: {
    reasoning_tokens: number
    audio_tokens: number
    accepted_prediction_tokens: number
    rejected_prediction_tokens: number
  }
}

export interface AnswerOptions {
  /** The answer is the turn's structured output (response_format json_*), not its streamed text. */
  json: boolean
  stop: readonly string[]
  /** Maps a Claude tool name to the client function it stands for, or undefined for Claude's own tools. */
  clientFunction(toolName: string): string | undefined
  /**
   * The answer covers a whole turn. False when it continues a turn after client function results (or ends
   * on client calls): its usage is then that of its own model responses, not the turn's.
   */
  wholeTurn: boolean
}

export class Answer {
  content = ''
  reasoning = ''
  readonly thinkingBlocks: { type: 'thinking'; thinking: string; signature: string }[] = []
  readonly toolCalls: ToolCall[] = []
  finishReason: FinishReason | null = null
  completed: EventOf<'turn.completed'> | null = null
  /** A stop sequence was reached: the rest of the turn is not part of the answer. */
  stopped = false
  /**
   * Claude finished a response that calls client functions: the answer ends here with those calls, while
   * the turn waits for their results (the next request brings them).
   */
  handedOff = false
  /** Text held back because it might be the start of a stop sequence. */
  private held = ''
  private readonly paragraphs = new Paragraphs()
  private readonly longestStop: number
  /** Usage of the model responses this answer covers (main conversation only). */
  private readonly responses: TokenUsage = {
    inputTokens: 0,
    outputTokens: 0,
    cacheReadInputTokens: 0,
    cacheCreationInputTokens: 0,
    thinkingTokens: 0,
  }
  private responseCount = 0

  constructor(private readonly options: AnswerOptions) {
    this.longestStop = Math.max(0, ...options.stop.map((s) => s.length))
  }

  /** Whether the event is the answer's first sign of life (what a stream waits for before its 200). */
  static isProgress(event: GatewayEvent, options: Pick<AnswerOptions, 'json' | 'clientFunction'>): boolean {
    if (event.type === 'turn.completed') return true
    if ('parentToolUseId' in event && event.parentToolUseId !== null) return false
    if (event.type === 'text.delta') return !options.json
    if (event.type === 'thinking.delta') return true
    return event.type === 'tool.call' && options.clientFunction(event.name) !== undefined
  }

  /** Nothing more belongs to this answer: the turn ended, a stop sequence was met, or client calls wait. */
  get done(): boolean {
    return this.completed !== null || this.handedOff
  }

  /** Take one event of the turn; returns what a stream should send now. */
  apply(event: GatewayEvent): Delta[] {
    if (event.type === 'turn.completed') return this.complete(event)
    if (this.handedOff) return []
    if (this.stopped || ('parentToolUseId' in event && event.parentToolUseId !== null)) return []
    switch (event.type) {
      case 'text.delta':
        return this.options.json ? [] : this.text(event.text)
      case 'thinking.delta':
        this.reasoning += event.text
        return [{ reasoning_content: event.text }]
      case 'message':
        this.message(event.content)
        return []
      case 'tool.call':
        return this.toolCall(event)
      case 'message.stop':
        this.addResponse(event.usage)
        // Claude Code would ask the model to go on past the limit; the OpenAI answer ends at it.
        if (event.stopReason === 'max_tokens') {
          this.stopped = true
          this.finishReason = 'length'
          return this.flushHeld()
        }
        if (event.stopReason === 'tool_use' && this.toolCalls.length > 0) {
          this.handedOff = true
          this.finishReason = 'tool_calls'
          return this.flushHeld()
        }
        return []
      default:
        return []
    }
  }

  get usage(): Usage | null {
    if (this.completed && (this.options.wholeTurn || this.responseCount === 0))
      return openAIUsage(this.completed.usage)
    return this.responseCount > 0 ? openAIUsage(this.responses) : null
  }

  private addResponse(usage: TokenUsage): void {
    this.responseCount++
    this.responses.inputTokens += usage.inputTokens
    this.responses.outputTokens += usage.outputTokens
    this.responses.cacheReadInputTokens += usage.cacheReadInputTokens
    this.responses.cacheCreationInputTokens += usage.cacheCreationInputTokens
    this.responses.thinkingTokens += usage.thinkingTokens
  }

  private text(piece: string): Delta[] {
    const text = this.paragraphs.next(piece)
    if (this.longestStop === 0) {
      this.content += text
      return [{ content: text }]
    }
    const pending = this.held + text
    const cut = firstStop(pending, this.options.stop)
    if (cut >= 0) {
      this.stopped = true
      this.finishReason = 'stop'
      this.held = ''
      return this.emit(pending.slice(0, cut))
    }
    const safe = pending.length - (this.longestStop - 1)
    this.held = safe > 0 ? pending.slice(safe) : pending
    return safe > 0 ? this.emit(pending.slice(0, safe)) : []
  }

  private emit(text: string): Delta[] {
    if (!text) return []
    this.content += text
    return [{ content: text }]
  }

  private flushHeld(): Delta[] {
    if (!this.held || this.stopped) return []
    const held = this.held
    this.held = ''
    return this.emit(held)
  }

  private message(content: ContentBlock[]): void {
    this.paragraphs.message(content)
    for (const block of content) {
      if (block.type === 'thinking' && typeof block.signature === 'string') {
        this.thinkingBlocks.push({
          type: 'thinking',
          thinking: String(block.thinking ?? ''),
          signature: block.signature,
        })
      }
    }
  }

  private toolCall(event: EventOf<'tool.call'>): Delta[] {
    const name = this.options.clientFunction(event.name)
    if (name === undefined) return []
    const call: ToolCall = {
      id: event.toolUseId,
      type: 'function',
      function: { name, arguments: JSON.stringify(event.input ?? {}) },
    }
    const index = this.toolCalls.push(call) - 1
    return [
      { tool_calls: [{ index, id: call.id, type: 'function', function: { name, arguments: '' } }] },
      { tool_calls: [{ index, function: { arguments: call.function.arguments } }] },
    ]
  }

  private complete(event: EventOf<'turn.completed'>): Delta[] {
    this.completed = event
    const deltas = this.flushHeld()
    if (this.options.json && event.structuredOutput !== undefined) {
      deltas.push(...this.emit(JSON.stringify(event.structuredOutput)))
    } else if (this.options.json && event.result && !this.content) {
      deltas.push(...this.emit(event.result))
    }
    this.finishReason ??= this.toolCalls.length > 0 ? 'tool_calls' : finishReasonOf(event)
    return deltas
  }
}

function finishReasonOf(event: EventOf<'turn.completed'>): FinishReason {
  if (event.stopReason === 'max_tokens' || event.error?.code === 'max_turns') return 'length'
  if (event.stopReason === 'refusal') return 'content_filter'
  return 'stop'
}

function firstStop(text: string, stops: readonly string[]): number {
  let first = -1
  for (const stop of stops) {
    const at = text.indexOf(stop)
    if (at >= 0 && (first < 0 || at < first)) first = at
  }
  return first
}

/** Claude's usage in OpenAI's terms: cache reads and writes are prompt tokens too (LiteLLM's cost needs it). */
export function openAIUsage(usage: TokenUsage): Usage {
  const prompt = usage.inputTokens + usage.cacheReadInputTokens + usage.cacheCreationInputTokens
  return {
    prompt_tokens: prompt,
    completion_tokens: usage.outputTokens,
    total_tokens: prompt + usage.outputTokens,
    prompt_tokens_details: { cached_tokens: usage.cacheReadInputTokens, audio_tokens: 0 },
    completion_tokens_details: {
      reasoning_tokens: usage.thinkingTokens,
      audio_tokens: 0,
      accepted_prediction_tokens: 0,
      rejected_prediction_tokens: 0,
    },
  }
}
