/**
 * Tool calls read back from a session's events, with their status: what followed each `tool.call` (its
 * result, a permission decision, the end of its turn or of the process that ran it). The one place a call's
 * status is decided: `/tool-calls` lists these calls, and a turn's answer gives its calls the same status.
 */
import { clientFunctionName } from '../../engine/client-tools.js'
import { isDirectCall } from '../../engine/direct-calls.js'
import type { EventOf, EventType, GatewayEvent, SessionState } from '../../events/types.js'

export const TOOL_CALL_STATUSES = [
  'running',
  'succeeded',
  'failed',
  'denied',
  'interrupted',
  'timeout',
] as const
export type ToolCallStatus = (typeof TOOL_CALL_STATUSES)[number]

/** Every event that can decide a call's status; the store can skip the rest (token deltas above all). */
export const DECIDING_EVENTS = [
  'tool.call',
  'tool.result',
  'permission.requested',
  'permission.resolved',
  'message.stop',
  'turn.completed',
  'error',
  'session.state',
] as const satisfies readonly EventType[]

/** States a session enters when its Claude Code process is gone, taking the calls it was running along. */
const PROCESS_GONE = new Set<SessionState>(['hibernated', 'new', 'paused', 'closed'])

/** What a subagent started without `subagent_type` is (Claude Code's default). */
const DEFAULT_SUBAGENT = 'general-purpose'

export interface LoggedToolCall {
  started: EventOf<'tool.call'>
  /**
   * Who made it: the main conversation (`agent`: the session's main agent, null for Claude Code's default),
   * a subagent (`agent`: the `subagent_type` of the `Task` call that started it), or an API client.
   */
  caller: 'main' | 'subagent' | 'direct'
  agent: string | null
  result?: EventOf<'tool.result'>
  requested?: EventOf<'permission.requested'>
  resolved?: EventOf<'permission.resolved'>
  /** It ended without a result of its own: cut off by an interrupt, its process, or the client's timeout. */
  ended?: { status: 'interrupted' | 'timeout'; ts: number }
  status: ToolCallStatus
}

export interface ToolCallContext {
  /** The session's main agent; null: Claude Code's default. */
  mainAgent: string | null
  /** Whether a Claude Code process serves the session now: without one, none of Claude's calls runs. */
  processAlive: boolean
}

/** Every tool call in the events, oldest first, with its status and caller. */
export function toolCallsOf(
  events: readonly GatewayEvent[],
  { mainAgent, processAlive }: ToolCallContext,
): LoggedToolCall[] {
  const calls = new Map<string, LoggedToolCall>()
  const byRequest = new Map<string, LoggedToolCall>()
  /** Calls with no result yet. */
  const open = new Set<LoggedToolCall>()
  /** Failed calls the model has not answered yet, by thread (subagent `Task` call, '' the main one). */
  const unanswered = new Map<string, LoggedToolCall[]>()
  const end = (call: LoggedToolCall, status: 'interrupted' | 'timeout', ts: number) => {
    call.ended ??= { status, ts }
    open.delete(call)
  }

  for (const event of events) {
    switch (event.type) {
      case 'tool.call': {
        const call: LoggedToolCall = {
          started: event,
          ...callerOf(event, calls, mainAgent),
          status: 'running',
        }
        calls.set(event.toolUseId, call)
        open.add(call)
        break
      }
      case 'tool.result': {
        const call = calls.get(event.toolUseId)
        if (!call) break
        call.result = event
        open.delete(call)
        if (event.isError) {
          const thread = event.parentToolUseId ?? ''
          const failed = unanswered.get(thread)
          if (failed) failed.push(call)
          else unanswered.set(thread, [call])
        }
        break
      }
      case 'permission.requested': {
        const call = calls.get(event.toolUseId)
        if (!call) break
        call.requested = event
        byRequest.set(event.requestId, call)
        break
      }
      case 'permission.resolved': {
        const call = byRequest.get(event.requestId)
        if (!call) break
        call.resolved = event
        if (event.by === 'interrupt') end(call, 'interrupted', event.ts)
        break
      }
      case 'message.stop':
        // The model went on after the failures of its thread: they were failures, not the interrupt's doing.
        unanswered.delete(event.parentToolUseId ?? '')
        break
      case 'turn.completed': {
        if (event.status === 'success') break
        // A call still running when its turn failed was cut off; so was one whose (error) result is the
        // interrupt's own answer, which the model never got to see.
        const cutOff = [...open].filter((call) => call.started.turnId === event.turnId)
        if (event.status === 'interrupted') {
          for (const [thread, failed] of unanswered) {
            cutOff.push(...failed.filter((call) => call.started.turnId === event.turnId))
            unanswered.set(
              thread,
              failed.filter((call) => call.started.turnId !== event.turnId),
            )
          }
        }
        for (const call of cutOff) end(call, 'interrupted', event.ts)
        break
      }
      case 'error':
        // The API client did not return a client function's result in time: the engine gave up on it.
        if (event.code !== 'tool_timeout') break
        for (const call of open)
          if (call.started.turnId === event.turnId && clientFunctionName(call.started.name) !== undefined)
            end(call, 'timeout', event.ts)
        break
      case 'session.state':
        if (!PROCESS_GONE.has(event.state)) break
        for (const call of open) if (call.caller !== 'direct') end(call, 'interrupted', event.ts)
        break
    }
  }
  for (const call of calls.values()) call.status = statusOf(call, processAlive)
  return [...calls.values()]
}

/** A call's status, from what the events told of it. */
function statusOf(call: LoggedToolCall, processAlive: boolean): ToolCallStatus {
  if (call.ended?.status === 'timeout') return 'timeout'
  if (call.resolved?.behavior === 'deny' && call.resolved.by !== 'interrupt') return 'denied'
  if (call.ended) return 'interrupted'
  const { result } = call
  if (!result) return processAlive || call.caller === 'direct' ? 'running' : 'interrupted'
  if (!result.isError) return 'succeeded'
  // Claude Code's own rules and mode refuse calls without asking the gateway: only the result tells.
  return result.denied ? 'denied' : 'failed'
}

/** The `Task` call that started a subagent comes before the subagent's own calls. */
function callerOf(
  call: EventOf<'tool.call'>,
  earlier: ReadonlyMap<string, LoggedToolCall>,
  mainAgent: string | null,
): Pick<LoggedToolCall, 'caller' | 'agent'> {
  if (isDirectCall(call)) return { caller: 'direct', agent: null }
  if (call.parentToolUseId === null) return { caller: 'main', agent: mainAgent }
  const task = earlier.get(call.parentToolUseId)?.started
  if (!task) return { caller: 'subagent', agent: null }
  const type = (task.input as { subagent_type?: unknown } | null)?.subagent_type
  return { caller: 'subagent', agent: typeof type === 'string' ? type : DEFAULT_SUBAGENT }
}
