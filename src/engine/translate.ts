/**
 * The one place where SDK messages become gateway events. Everything downstream reads only events.
 * One Translator serves one runner (one CLI process): it remembers open tool calls and the process's
 * running cost and API time totals, which the CLI reports cumulatively.
 */
import type { SDKMessage, SDKResultMessage } from '@anthropic-ai/claude-agent-sdk'
import type { ContentBlock, ErrorCode, EventBody, TokenUsage, TurnStatus } from '../events/types.js'

interface OpenToolCall {
  name: string
  input: unknown
  startedAt: number
}

const FILE_TOOLS = new Set(['Write', 'Edit', 'MultiEdit', 'NotebookEdit'])
/** What `/model` takes for "back to the CLI's own default model". */
const DEFAULT_MODEL_ALIAS = 'default'

export class Translator {
  private readonly openCalls = new Map<string, OpenToolCall>()
  private claudeSessionId: string | null = null
  /** The model of the main conversation's last answer (subagents and local commands left out). */
  private model = ''
  /** Usage reported when each stream (main thread or a subagent's) started its current response. */
  private readonly responseUsage = new Map<
    string | null,
    Partial<Record<'input_tokens' | 'cache_read_input_tokens' | 'cache_creation_input_tokens', number | null>>
  >()

  /**
   * The CLI's running total of time spent in Claude's API (`duration_api_ms`), as of its last result; null
   * while unknown: a resumed conversation's CLI may continue the total saved for it, or start from zero.
   */
  private apiMsSoFar: number | null

  /**
   * @param costSoFar the running cost total the CLI starts from: a resumed conversation continues the total
   *   saved in its transcript, so the first turn after a resume must not be charged for the earlier ones.
   * @param resumed the process resumed a conversation: its first turn's API time is not known.
   * @param apiMsBefore the process's running API time when the session got it, as its last result said (0
   *   for a new process; `/clear` restarts it too, its own result says 0), so a turn counts only its own.
   */
  constructor(
    private costSoFar = 0,
    resumed = false,
    apiMsBefore = 0,
  ) {
    this.apiMsSoFar = resumed ? null : apiMsBefore
  }

  /** Events for one SDK message, in the order they happened. `turnId` is the turn the runner is serving. */
  translate(message: SDKMessage, turnId: string): EventBody[] {
    switch (message.type) {
      case 'stream_event':
        return this.streamEvent(message.event, turnId, message.parent_tool_use_id)
      case 'assistant':
        return this.assistant(message, turnId)
      case 'user':
        return 'isReplay' in message && message.isReplay ? [] : this.toolResults(message, turnId)
      case 'result':
        return this.result(message, turnId)
      case 'conversation_reset':
        // The CLI restarts its running cost total with the new conversation.
        this.costSoFar = 0
        return [
          {
            type: 'conversation.reset',
            claudeSessionId: message.new_conversation_id,
            trigger: message.trigger ?? 'clear',
          },
        ]
      case 'system':
        return this.system(message, turnId)
      default:
        return []
    }
  }

  private streamEvent(
    event: Extract<SDKMessage, { type: 'stream_event' }>['event'],
    turnId: string,
    parentToolUseId: string | null,
  ): EventBody[] {
    if (event.type === 'message_start') {
      this.responseUsage.set(parentToolUseId, event.message.usage)
      return []
    }
    if (event.type === 'message_delta') {
      // The delta's counts are the response's totals so far; missing ones come from its start.
      const start = this.responseUsage.get(parentToolUseId)
      this.responseUsage.delete(parentToolUseId)
      const usage = {
        input_tokens: event.usage.input_tokens ?? start?.input_tokens ?? 0,
        output_tokens: event.usage.output_tokens,
        cache_read_input_tokens: event.usage.cache_read_input_tokens ?? start?.cache_read_input_tokens ?? 0,
        cache_creation_input_tokens:
          event.usage.cache_creation_input_tokens ?? start?.cache_creation_input_tokens ?? 0,
      }
      return [
        {
          type: 'message.stop',
          turnId,
          stopReason: event.delta.stop_reason ?? null,
          usage: tokenUsage(usage as SDKResultMessage['usage']),
          parentToolUseId,
        },
      ]
    }
    if (event.type !== 'content_block_delta') return []
    const delta = event.delta
    // Empty deltas carry nothing (thinking with display "omitted" streams them): no event.
    if (delta.type === 'text_delta' && delta.text) {
      return [{ type: 'text.delta', turnId, text: delta.text, parentToolUseId }]
    }
    if (delta.type === 'thinking_delta' && delta.thinking) {
      return [{ type: 'thinking.delta', turnId, text: delta.thinking, parentToolUseId }]
    }
    return []
  }

  private assistant(message: Extract<SDKMessage, { type: 'assistant' }>, turnId: string): EventBody[] {
    const content = message.message.content as unknown as ContentBlock[]
    const parentToolUseId = message.parent_tool_use_id
    const synthetic = message.message.model === '<synthetic>'
    if (parentToolUseId === null && !synthetic) this.model = message.message.model
    const events: EventBody[] = [
      {
        type: 'message',
        turnId,
        messageId: message.message.id,
        model: message.message.model,
        content,
        parentToolUseId,
        synthetic,
      },
    ]
    const switchedTo = synthetic ? modelSwitch(message) : undefined
    if (switchedTo !== undefined) events.push({ type: 'model.changed', turnId, model: switchedTo })
    for (const block of content) {
      if (!isToolCall(block)) continue
      const toolUseId = String(block.id)
      const name = String(block.name)
      this.openCalls.set(toolUseId, { name, input: block.input, startedAt: Date.now() })
      events.push({ type: 'tool.call', turnId, toolUseId, name, input: block.input, parentToolUseId })
    }
    return events
  }

  private toolResults(message: Extract<SDKMessage, { type: 'user' }>, turnId: string): EventBody[] {
    const content = message.message.content
    if (typeof content === 'string') return []
    const events: EventBody[] = []
    const refused = refusedCalls(message)
    for (const block of content) {
      if (block.type !== 'tool_result') continue
      const call = this.openCalls.get(block.tool_use_id)
      this.openCalls.delete(block.tool_use_id)
      const name = call?.name ?? 'unknown'
      const isError = block.is_error === true
      events.push({
        type: 'tool.result',
        turnId,
        toolUseId: block.tool_use_id,
        name,
        isError,
        content: (block.content ?? '') as string | ContentBlock[],
        structured: message.tool_use_result,
        durationMs: call ? Date.now() - call.startedAt : null,
        parentToolUseId: message.parent_tool_use_id,
        ...(refused.has(block.tool_use_id) ? { denied: true as const } : {}),
      })
      if (!isError && FILE_TOOLS.has(name)) {
        const change = fileChange(name, call?.input, message.tool_use_result)
        if (change)
          events.push({ type: 'file.changed', turnId, toolUseId: block.tool_use_id, tool: name, ...change })
      }
    }
    return events
  }

  private system(message: Extract<SDKMessage, { type: 'system' }>, turnId: string): EventBody[] {
    switch (message.subtype) {
      case 'init':
        if (message.session_id === this.claudeSessionId) return []
        this.claudeSessionId = message.session_id
        return [
          {
            type: 'session.ready',
            claudeSessionId: message.session_id,
            model: message.model,
            cwd: message.cwd,
            tools: message.tools,
            permissionMode: message.permissionMode,
          },
        ]
      case 'api_retry':
        return [
          {
            type: 'api.retry',
            turnId,
            attempt: message.attempt,
            maxRetries: message.max_retries,
            delayMs: message.retry_delay_ms,
            status: message.error_status,
          },
        ]
      case 'compact_boundary':
        return [
          {
            type: 'compacted',
            turnId,
            trigger: message.compact_metadata.trigger,
            preTokens: message.compact_metadata.pre_tokens,
            postTokens: message.compact_metadata.post_tokens,
          },
        ]
      case 'local_command_output':
        // A local command's output sent on its own rather than as a synthetic answer: shown as one.
        return [
          {
            type: 'message',
            turnId,
            messageId: message.uuid,
            model: '<synthetic>',
            content: [{ type: 'text', text: message.content }],
            parentToolUseId: null,
            synthetic: true,
          },
        ]
      default:
        return []
    }
  }

  private result(message: SDKResultMessage, turnId: string): EventBody[] {
    // total_cost_usd is the process's running total; a total below the last one was restarted (/clear).
    const total = message.total_cost_usd
    const costUsd = total >= this.costSoFar ? total - this.costSoFar : total
    this.costSoFar = total
    const apiDurationMs = this.apiTime(message.duration_api_ms)
    const usage = tokenUsage(message.usage)
    const model = this.model || (Object.keys(message.modelUsage)[0] ?? '')
    const spent: EventBody = { type: 'usage', turnId, model, usage, costUsd }
    // Claude Code went on by itself (a background subagent finished after its turn had ended): what that
    // cost counts, but the result answers none of the gateway's messages, so it ends no turn.
    if (answersNoMessage(message)) return [spent]
    const { status, error } = outcome(message)
    return [
      spent,
      {
        type: 'turn.completed',
        turnId,
        status,
        result: message.subtype === 'success' ? message.result : '',
        structuredOutput: message.subtype === 'success' ? message.structured_output : undefined,
        stopReason: message.stop_reason,
        durationMs: message.duration_ms,
        ...(apiDurationMs === undefined ? {} : { apiDurationMs }),
        numTurns: message.num_turns,
        usage,
        costUsd,
        ...(error ? { error } : {}),
        ...(message.subtype === 'success' && message.local_command
          ? { localCommand: message.local_command }
          : {}),
      },
    ]
  }

  /**
   * This turn's API time, from the CLI's running total: its growth since the last result (a result that
   * ends no turn moves the total on too). A total below the last one was started again (/clear), like the
   * cost's.
   */
  private apiTime(total: number): number | undefined {
    const before = this.apiMsSoFar
    this.apiMsSoFar = Number.isFinite(total) ? total : null
    if (before === null || this.apiMsSoFar === null) return undefined
    return total >= before ? total - before : total
  }
}

/**
 * A result Claude Code produced on its own initiative (its `origin` is not a person: a task notification,
 * an auto-continuation) without taking in any user message sent to it.
 */
function answersNoMessage(message: SDKResultMessage): boolean {
  return message.origin !== undefined && message.origin.kind !== 'human' && !message.user_message_uuid
}

/**
 * Claude Code's notes on the tool results of a user message (`tool_result_meta`, which the SDK's types do
 * not declare): each result's permission decision, stamped by the CLI itself.
 */
interface ToolResultMeta {
  id?: unknown
  permission_decision?: { decision?: unknown }
}

/**
 * The tool calls of a user message that Claude Code's permission check rejected, whoever decided: its deny
 * rules (path-scoped file rules included), its permission mode, or the answer to a permission request.
 */
function refusedCalls(message: Extract<SDKMessage, { type: 'user' }>): Set<string> {
  const meta = (message as { tool_result_meta?: unknown }).tool_result_meta
  const refused = new Set<string>()
  if (!Array.isArray(meta)) return refused
  for (const entry of meta as ToolResultMeta[])
    if (entry?.permission_decision?.decision === 'reject' && typeof entry.id === 'string')
      refused.add(entry.id)
  return refused
}

/**
 * The model a local `/model <name>` switched the process to, from the command run Claude Code stamps on its
 * answer (`local_command_run`, undeclared in the SDK's types): null for `default`, undefined when the answer
 * is not a model switch (another command, or `/model` alone, which only shows the current model).
 */
function modelSwitch(message: Extract<SDKMessage, { type: 'assistant' }>): string | null | undefined {
  const run = (message as { local_command_run?: { command?: unknown; args?: unknown } }).local_command_run
  if (run?.command !== 'model' || typeof run.args !== 'string') return undefined
  const name = run.args.trim()
  if (!name) return undefined
  return name === DEFAULT_MODEL_ALIAS ? null : name
}

export function tokenUsage(usage: SDKResultMessage['usage']): TokenUsage {
  const details = (usage as { output_tokens_details?: { thinking_tokens?: number } }).output_tokens_details
  return {
    inputTokens: usage.input_tokens ?? 0,
    outputTokens: usage.output_tokens ?? 0,
    cacheReadInputTokens: usage.cache_read_input_tokens ?? 0,
    cacheCreationInputTokens: usage.cache_creation_input_tokens ?? 0,
    thinkingTokens: details?.thinking_tokens ?? 0,
  }
}

function outcome(message: SDKResultMessage): {
  status: TurnStatus
  error?: { code: ErrorCode; message: string }
} {
  if (message.subtype === 'success') {
    if (!message.is_error) return { status: 'success' }
    return {
      status: 'error',
      error: { code: classifyUpstream(message.api_error_status, message.result), message: message.result },
    }
  }
  const text = message.errors.join('; ')
  switch (message.subtype) {
    case 'error_max_turns':
      return {
        status: 'error',
        error: { code: 'max_turns', message: text || 'Maximum number of turns reached' },
      }
    case 'error_max_budget_usd':
      return { status: 'error', error: { code: 'max_budget', message: text || 'Maximum budget reached' } }
    default:
      if (message.terminal_reason === 'aborted_streaming' || message.terminal_reason === 'aborted_tools') {
        return { status: 'interrupted', error: { code: 'interrupted', message: 'The turn was interrupted' } }
      }
      if (message.terminal_reason === 'prompt_too_long') {
        return {
          status: 'error',
          error: { code: 'context_length_exceeded', message: text || 'Prompt is too long' },
        }
      }
      return {
        status: 'error',
        error: { code: 'upstream_error', message: text || 'Claude Code reported an error' },
      }
  }
}

/** Claude's API refused the credentials Claude Code runs with: no retry can succeed. */
export function isAuthFailure(status: number | null | undefined): boolean {
  return status === 401 || status === 403
}

/** What kind of upstream failure a failed turn was, from the HTTP status the CLI saw and its message. */
export function classifyUpstream(status: number | null | undefined, text: string): ErrorCode {
  if (/prompt is too long|context window|context length/i.test(text)) return 'context_length_exceeded'
  if (isAuthFailure(status)) return 'upstream_auth_failed'
  if (status === 429 || /rate.?limit/i.test(text)) return 'rate_limited'
  if (status === 529 || /overloaded/i.test(text)) return 'overloaded'
  return 'upstream_error'
}

interface FileOutput {
  type?: 'create' | 'update'
  filePath?: string
  content?: string
  originalFile?: string | null
  oldString?: string
  newString?: string
  notebook_path?: string
  original_file?: string
  new_source?: string
}

function fileChange(
  tool: string,
  input: unknown,
  structured: unknown,
): { path: string; kind: 'created' | 'modified'; before?: string | null; after?: string } | undefined {
  const out = (structured ?? {}) as FileOutput
  const args = (input ?? {}) as { file_path?: string; notebook_path?: string; content?: string }
  if (tool === 'NotebookEdit') {
    const path = out.notebook_path ?? args.notebook_path
    return path ? { path, kind: 'modified', before: out.original_file } : undefined
  }
  const path = out.filePath ?? args.file_path
  if (!path) return undefined
  if (tool === 'Write') {
    const created = out.type ? out.type === 'create' : out.originalFile === null
    return {
      path,
      kind: created ? 'created' : 'modified',
      before: out.originalFile ?? null,
      after: out.content ?? args.content,
    }
  }
  // An Edit with an empty old_string on a missing file creates it with new_string.
  if (out.originalFile === null) return { path, kind: 'created', before: null, after: out.newString }
  const before = out.originalFile
  const after =
    before !== undefined && out.oldString !== undefined && out.newString !== undefined
      ? applyEdit(before, out.oldString, out.newString, (out as { replaceAll?: boolean }).replaceAll === true)
      : undefined
  return { path, kind: 'modified', before, after }
}

function applyEdit(before: string, oldString: string, newString: string, all: boolean): string {
  return all ? before.split(oldString).join(newString) : before.replace(oldString, () => newString)
}

/** Whether an assistant content block calls a tool: Claude Code's, a server tool, or an MCP server's. */
export function isToolCall(block: { type: string }): boolean {
  return block.type === 'tool_use' || block.type === 'server_tool_use' || block.type === 'mcp_tool_use'
}
