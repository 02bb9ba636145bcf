/**
 * Tool calls read back from a session's events, with their status: what followed each `tool.call` (its
 * result, a permission decision, the end of its turn or of the process that ran it). The one place a call's
 * status is decided, event by event (`decide`): `/tool-calls` lists these calls, a turn's answer gives its calls
 * the same status, and the store's index of calls applies the same rule to each event it is appended with.
 */
import { clientFunctionName } from './client-tool-names.js'
import type { EventOf, EventType, GatewayEvent, SessionState } from './types.js'

/**
 * Whether a tool call (or its result) is a direct call, made by an API client rather than by Claude. Events
 * recorded before calls carried `direct` have only their turn id to tell: `direct-…` (engine/direct-calls.ts).
 */
export const isDirectCall = (event: EventOf<'tool.call'> | EventOf<'tool.result'>): boolean =>
  event.direct === true || event.turnId.startsWith('direct-')

export const TOOL_CALL_STATUSES = [
  'running',
  'succeeded',
  'failed',
  'denied',
  'interrupted',
  'timeout',
] as const
export type ToolCallStatus = (typeof TOOL_CALL_STATUSES)[number]

/** Who makes a call: Claude in the main conversation, a subagent, or an API client (CallFacts.caller). */
export const TOOL_CALLERS = ['main', 'subagent', 'direct'] as const
export type ToolCaller = (typeof TOOL_CALLERS)[number]

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

/** The tools that run a subagent (Claude Code renamed `Task` to `Agent`). */
const SUBAGENT_TOOLS = new Set(['Task', 'Agent'])
/** What a subagent started without `subagent_type` is (Claude Code's default). */
const DEFAULT_SUBAGENT = 'general-purpose'

/** The subagent type a call runs: Claude's `Task` (`Agent`) calls only, null for every other call. */
export function subagentOf(call: EventOf<'tool.call'>): string | null {
  if (isDirectCall(call) || !SUBAGENT_TOOLS.has(call.name)) return null
  const type = (call.input as { subagent_type?: unknown } | null)?.subagent_type
  return typeof type === 'string' ? type : DEFAULT_SUBAGENT
}

/**
 * What the decider keeps of a call: enough of its events to decide its status. The log's reader keeps the
 * events themselves (LoggedToolCall); the store's index keeps these facts in its rows (store/tool-call-index.ts).
 */
export interface CallFacts {
  started: Pick<EventOf<'tool.call'>, 'toolUseId' | 'turnId' | 'name' | 'ts' | 'seq'>
  /**
   * Who made it: the main conversation (`agent`: the session's main agent, null for Claude Code's default),
   * a subagent (`agent`: the `subagent_type` of the `Task` call that started it), or an API client.
   */
  caller: ToolCaller
  agent: string | null
  /** The subagent type it runs (subagentOf). */
  subagent: string | null
  result?: Pick<EventOf<'tool.result'>, 'isError' | 'denied'>
  requested?: Pick<EventOf<'permission.requested'>, 'requestId'>
  resolved?: Pick<EventOf<'permission.resolved'>, 'behavior' | 'by'>
  /** It ended without a result of its own: cut off by an interrupt, its process, or the client's timeout. */
  ended?: { status: 'interrupted' | 'timeout'; ts: number }
  /** It failed and the model has not answered the failure yet: the thread (`Task` call, '' the main one). */
  unanswered?: string
}

export interface LoggedToolCall extends CallFacts {
  started: EventOf<'tool.call'>
  result?: EventOf<'tool.result'>
  requested?: EventOf<'permission.requested'>
  resolved?: EventOf<'permission.resolved'>
  status: ToolCallStatus
}

/**
 * The calls of one session the decider reads and changes: in memory (toolCallsOf) or the store's index.
 * The decider only asks for candidates; which of them an event changes is its own rule.
 */
export interface CallBook<C extends CallFacts> {
  /** The session's main agent; null: Claude Code's default. */
  readonly mainAgent: string | null
  /** Records a call just started (replacing one with the same id). */
  add(event: EventOf<'tool.call'>, who: Pick<CallFacts, 'caller' | 'agent' | 'subagent'>): void
  get(toolUseId: string): C | undefined
  byRequest(requestId: string): C | undefined
  /** Calls with neither a result nor an end yet: of a turn, or of the whole session. */
  open(turnId?: string): readonly C[]
  /** Calls whose failure is unanswered: of a thread, or of a turn. */
  unanswered(where: { thread: string } | { turnId: string }): readonly C[]
  /** Told after the decider changed a call, with the event that changed it. */
  changed(call: C, cause: GatewayEvent): void
}

/** What `event` changes of the calls in `book`: the one rule of a call's status over time. */
export function decide<C extends CallFacts>(event: GatewayEvent, book: CallBook<C>): void {
  /** Records on `call` (when the book has it) what the event tells of it, and tells the book. */
  const update = (call: C | undefined, record: (call: C) => void) => {
    if (!call) return
    record(call)
    book.changed(call, event)
  }
  const end = (call: C, status: 'interrupted' | 'timeout') =>
    update(call, () => {
      call.ended ??= { status, ts: event.ts }
    })
  switch (event.type) {
    case 'tool.call':
      book.add(event, { ...callerOf(event, book), subagent: subagentOf(event) })
      break
    case 'tool.result':
      update(book.get(event.toolUseId), (call) => {
        call.result = event
        if (event.isError) call.unanswered = event.parentToolUseId ?? ''
      })
      break
    case 'permission.requested':
      update(book.get(event.toolUseId), (call) => {
        call.requested = event
      })
      break
    case 'permission.resolved':
      update(book.byRequest(event.requestId), (call) => {
        call.resolved = event
        // A prompt answered by an interrupt: the call was cut off, not denied (statusOf).
        if (event.by === 'interrupt') call.ended ??= { status: 'interrupted', ts: event.ts }
      })
      break
    case 'message.stop':
      // The model went on after the failures of its thread: they were failures, not the interrupt's doing.
      for (const call of book.unanswered({ thread: event.parentToolUseId ?? '' }))
        update(call, () => {
          call.unanswered = undefined
        })
      break
    case 'turn.completed': {
      if (event.status === 'success') break
      // A call still running when its turn failed was cut off; so was one whose (error) result is the
      // interrupt's own answer, which the model never got to see.
      const cutOff = [...book.open(event.turnId)]
      if (event.status === 'interrupted')
        for (const call of book.unanswered({ turnId: event.turnId })) {
          call.unanswered = undefined
          cutOff.push(call)
        }
      for (const call of cutOff) end(call, 'interrupted')
      break
    }
    case 'error':
      // The API client did not return a client function's result in time: the engine gave up on it.
      if (event.code !== 'tool_timeout' || event.turnId === undefined) break
      for (const call of book.open(event.turnId))
        if (clientFunctionName(call.started.name) !== undefined) end(call, 'timeout')
      break
    case 'session.state':
      if (!PROCESS_GONE.has(event.state)) break
      for (const call of book.open()) if (call.caller !== 'direct') end(call, 'interrupted')
      break
  }
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
  const book = new CallLog(mainAgent)
  for (const event of events) decide(event, book)
  const calls = [...book.calls.values()]
  for (const call of calls) call.status = statusOf(call, processAlive)
  return calls
}

/** A call's status, from what the events told of it. */
export function statusOf(call: CallFacts, processAlive: boolean): ToolCallStatus {
  if (call.ended?.status === 'timeout') return 'timeout'
  if (call.resolved?.behavior === 'deny' && call.resolved.by !== 'interrupt') return 'denied'
  if (call.ended) return 'interrupted'
  const { result } = call
  if (!result) return processAlive || call.caller === 'direct' ? 'running' : 'interrupted'
  if (!result.isError) return 'succeeded'
  // Claude Code's own rules and mode refuse calls without asking the gateway: only the result tells.
  return result.denied ? 'denied' : 'failed'
}

/** The calls of a run of events, in memory. */
class CallLog implements CallBook<LoggedToolCall> {
  readonly calls = new Map<string, LoggedToolCall>()
  private readonly requests = new Map<string, LoggedToolCall>()
  private readonly running = new Set<LoggedToolCall>()
  private readonly failed = new Set<LoggedToolCall>()

  constructor(readonly mainAgent: string | null) {}

  add(event: EventOf<'tool.call'>, who: Pick<CallFacts, 'caller' | 'agent' | 'subagent'>): void {
    const call: LoggedToolCall = { started: event, ...who, status: 'running' }
    this.calls.set(event.toolUseId, call)
    this.running.add(call)
  }

  get(toolUseId: string): LoggedToolCall | undefined {
    return this.calls.get(toolUseId)
  }

  byRequest(requestId: string): LoggedToolCall | undefined {
    return this.requests.get(requestId)
  }

  open(turnId?: string): LoggedToolCall[] {
    return [...this.running].filter((call) => turnId === undefined || call.started.turnId === turnId)
  }

  unanswered(where: { thread: string } | { turnId: string }): LoggedToolCall[] {
    return [...this.failed].filter((call) =>
      'thread' in where ? call.unanswered === where.thread : call.started.turnId === where.turnId,
    )
  }

  changed(call: LoggedToolCall): void {
    if (call.requested) this.requests.set(call.requested.requestId, call)
    if (call.result || call.ended) this.running.delete(call)
    if (call.unanswered === undefined) this.failed.delete(call)
    else this.failed.add(call)
  }
}

/** The `Task` call that started a subagent comes before the subagent's own calls. */
function callerOf<C extends CallFacts>(
  call: EventOf<'tool.call'>,
  book: CallBook<C>,
): Pick<CallFacts, 'caller' | 'agent'> {
  if (isDirectCall(call)) return { caller: 'direct', agent: null }
  if (call.parentToolUseId === null) return { caller: 'main', agent: book.mainAgent }
  const task = book.get(call.parentToolUseId)
  return { caller: 'subagent', agent: task?.subagent ?? null }
}
