/**
 * A session's conversation as timeline entries: one reducer, keyed by sequence number, that folds both the
 * history pages (converted back to the events they were read from: history.ts) and the live events into the
 * same entries. An event applied twice changes nothing, and pages may arrive in any order (the last page
 * first, older ones as the user scrolls up): each entry keeps its place by the sequence number that made it.
 * Pure functions over plain data (no React, no DOM): node:test checks them.
 */
import type { ContentBlock, GatewayEvent } from '../../../api/types/events.js'
import type { SessionState } from '../../../api/types/sessions.js'
import type { Decision, Entry, EntryBase, EntryOf, FileChange, ToolResult } from './entry.js'

export interface TimelineState {
  /** Every sequence number applied: what makes applying an event twice a no-op. */
  seen: ReadonlySet<number>
  entries: ReadonlyMap<string, Entry>
  /** Per thread and block kind, the last whole message: deltas before it are already in it. */
  closed: ReadonlyMap<string, number>
  /** How each ended turn ended; `timeout`: the client did not answer a client tool in time. */
  turns: ReadonlyMap<string, 'success' | 'error' | 'interrupted' | 'timeout'>
  /** The last time the session's process went away (its running calls with it). */
  processGone: number
}

export const EMPTY_TIMELINE: TimelineState = {
  seen: new Set(),
  entries: new Map(),
  closed: new Map(),
  turns: new Map(),
  processGone: 0,
}

const GONE: ReadonlySet<SessionState> = new Set(['hibernated', 'new', 'paused', 'closed'])

/** The plain text of message content: text blocks joined, other blocks counted apart. */
export function textOf(content: string | readonly ContentBlock[]): { text: string; others: number } {
  if (typeof content === 'string') return { text: content, others: 0 }
  const texts: string[] = []
  let others = 0
  for (const block of content) {
    if (block.type === 'text' && typeof block.text === 'string') texts.push(block.text)
    else if (block.type === 'tool_result') texts.push(textOf(toolResultContent(block.content)).text)
    else others++
  }
  return { text: texts.join('\n\n'), others }
}

function toolResultContent(content: unknown): string | ContentBlock[] {
  if (typeof content === 'string') return content
  return Array.isArray(content) ? (content as ContentBlock[]) : ''
}

const thread = (parent: string | null) => parent ?? ''
const draftKey = (turnId: string, parent: string | null, kind: 'text' | 'thinking') =>
  `draft:${turnId}:${thread(parent)}:${kind}`

/** The events folded in, in any order and any number of times; a new state only if something changed. */
export function applyEvents(state: TimelineState, events: readonly GatewayEvent[]): TimelineState {
  const fresh = events.filter((event) => !state.seen.has(event.seq))
  if (fresh.length === 0) return state
  const next = new Draft(state)
  for (const event of fresh) next.apply(event)
  return next.done()
}

/** The state being built from the previous one: its maps copied once per batch, not once per event. */
class Draft {
  readonly seen: Set<number>
  readonly entries: Map<string, Entry>
  readonly closed: Map<string, number>
  readonly turns: Map<string, 'success' | 'error' | 'interrupted' | 'timeout'>
  processGone: number

  constructor(state: TimelineState) {
    this.seen = new Set(state.seen)
    this.entries = new Map(state.entries)
    this.closed = new Map(state.closed)
    this.turns = new Map(state.turns)
    this.processGone = state.processGone
  }

  done(): TimelineState {
    const { seen, entries, closed, turns, processGone } = this
    return { seen, entries, closed, turns, processGone }
  }

  apply(event: GatewayEvent): void {
    this.seen.add(event.seq)
    const base = (key: string, turnId: string | null, parent: string | null = null, order = event.seq) => ({
      key,
      order,
      seq: event.seq,
      ts: event.ts,
      turnId,
      parent,
    })
    switch (event.type) {
      case 'turn.started': {
        const { text, others } = textOf(event.content)
        this.put({ ...base(`user:${event.seq}`, event.turnId), kind: 'user', text, attachments: others })
        break
      }
      case 'text.delta':
      case 'thinking.delta': {
        const kind = event.type === 'text.delta' ? 'text' : 'thinking'
        if ((this.closed.get(`${thread(event.parentToolUseId)}:${kind}`) ?? 0) > event.seq) break
        const key = draftKey(event.turnId, event.parentToolUseId, kind)
        const draft = this.entries.get(key) as EntryOf<'text'> | EntryOf<'thinking'> | undefined
        if (draft) this.put({ ...draft, text: draft.text + event.text })
        else
          this.put({
            ...base(key, event.turnId, event.parentToolUseId),
            // A streamed draft is neither a synthetic text nor a redacted thinking.
            ...(kind === 'text' ? { kind, synthetic: false } : { kind, redacted: false }),
            text: event.text,
            streaming: true,
          })
        break
      }
      case 'message':
        this.message(event, base)
        break
      case 'tool.call':
        this.tool(event.toolUseId, event.seq, event.ts, event.turnId, event.parentToolUseId, {
          name: event.name,
          input: event.input,
          direct: event.direct === true,
        })
        break
      case 'tool.result': {
        const result: ToolResult = {
          text: textOf(event.content).text,
          isError: event.isError,
          denied: event.denied === true,
          durationMs: event.durationMs,
        }
        this.tool(event.toolUseId, event.seq, event.ts, event.turnId, event.parentToolUseId, {
          result,
          ...(event.direct ? { direct: true } : {}),
          // What is known before the call itself is: a page older than this one may bring it.
          name: event.name,
        })
        break
      }
      case 'file.changed': {
        const existing = this.entries.get(`tool:${event.toolUseId}`) as EntryOf<'tool'> | undefined
        const change: FileChange = { seq: event.seq, path: event.path, kind: event.kind }
        if (event.before !== undefined) change.before = event.before
        if (event.after !== undefined) change.after = event.after
        const files = [...(existing?.files ?? []), change].sort((a, b) => a.seq - b.seq)
        this.tool(event.toolUseId, event.seq, event.ts, event.turnId, null, { files })
        break
      }
      case 'permission.requested': {
        const key = `permission:${event.requestId}`
        const existing = this.entries.get(key) as EntryOf<'decision'> | undefined
        const answer = existing?.decision.type === 'permission' ? existing.decision.answer : undefined
        this.put({
          ...base(key, event.turnId),
          kind: 'decision',
          decision: {
            type: 'permission',
            requestId: event.requestId,
            toolUseId: event.toolUseId,
            toolName: event.toolName,
            input: event.input,
            ...(event.reason !== undefined ? { reason: event.reason } : {}),
            ...(answer ? { answer } : {}),
          },
        })
        break
      }
      case 'permission.resolved': {
        const key = `permission:${event.requestId}`
        const existing = this.entries.get(key) as EntryOf<'decision'> | undefined
        const answer = {
          behavior: event.behavior,
          by: event.by,
          ...(event.message !== undefined ? { message: event.message } : {}),
        }
        if (existing?.decision.type === 'permission')
          this.put({ ...existing, decision: { ...existing.decision, answer } })
        else
          this.put({
            ...base(key, event.turnId),
            kind: 'decision',
            decision: { type: 'permission', requestId: event.requestId, answer },
          })
        break
      }
      case 'api.retry':
        this.decision(base(`retry:${event.seq}`, event.turnId), {
          type: 'retry',
          attempt: event.attempt,
          maxRetries: event.maxRetries,
          delayMs: event.delayMs,
          status: event.status,
        })
        break
      case 'error':
        if (event.code === 'tool_timeout' && event.turnId) this.turns.set(event.turnId, 'timeout')
        this.decision(base(`error:${event.seq}`, event.turnId ?? null), {
          type: 'error',
          code: event.code,
          message: event.message,
        })
        break
      case 'compacted':
        this.decision(base(`compaction:${event.seq}`, event.turnId), {
          type: 'compaction',
          trigger: event.trigger,
          preTokens: event.preTokens,
          postTokens: event.postTokens ?? null,
        })
        break
      case 'model.changed':
        this.decision(base(`model:${event.seq}`, event.turnId), { type: 'model', model: event.model })
        break
      case 'settings.changed':
        this.decision(base(`settings:${event.seq}`, null), { type: 'settings', changes: event.changes })
        break
      case 'conversation.reset':
        this.decision(base(`reset:${event.seq}`, null), { type: 'reset', trigger: event.trigger })
        break
      case 'turn.completed':
        if (this.turns.get(event.turnId) !== 'timeout') this.turns.set(event.turnId, event.status)
        this.decision(base(`turn:${event.turnId}`, event.turnId), {
          type: 'turn',
          status: event.status,
          durationMs: event.durationMs,
          usage: event.usage,
          costUsd: event.costUsd,
          ...(event.error ? { error: event.error } : {}),
        })
        // What streamed and never came whole (an interrupt cut it) stays, as it was seen.
        for (const entry of this.entries.values())
          if (
            (entry.kind === 'text' || entry.kind === 'thinking') &&
            entry.streaming &&
            entry.turnId === event.turnId
          )
            this.put({ ...entry, streaming: false })
        break
      case 'session.state':
        if (GONE.has(event.state)) this.processGone = Math.max(this.processGone, event.seq)
        break
      default:
        // Process readiness, usage (repeated by the turn's end), message stops: nothing to show.
        break
    }
  }

  private put(entry: Entry): void {
    this.entries.set(entry.key, entry)
  }

  private decision(base: EntryBase, decision: Decision): void {
    this.put({ ...base, kind: 'decision', decision })
  }

  private message(
    event: Extract<GatewayEvent, { type: 'message' }>,
    base: (key: string, turnId: string | null, parent?: string | null, order?: number) => EntryBase,
  ): void {
    const parent = event.parentToolUseId
    const kinds = new Set<'text' | 'thinking'>()
    event.content.forEach((block, index) => {
      const order = event.seq + Math.min(index, 999) / 1000
      const key = `block:${event.seq}:${index}`
      if (block.type === 'text') {
        kinds.add('text')
        this.put({
          ...base(key, event.turnId, parent, order),
          kind: 'text',
          text: String(block.text ?? ''),
          streaming: false,
          synthetic: event.synthetic,
          messageId: event.messageId,
        })
      } else if (block.type === 'thinking' || block.type === 'redacted_thinking') {
        kinds.add('thinking')
        this.put({
          ...base(key, event.turnId, parent, order),
          kind: 'thinking',
          text: block.type === 'thinking' ? String(block.thinking ?? '') : '',
          streaming: false,
          redacted: block.type === 'redacted_thinking',
        })
      } else if (block.type === 'tool_use' && typeof block.id === 'string')
        this.tool(block.id, order, event.ts, event.turnId, parent, {
          name: String(block.name ?? 'tool'),
          input: block.input,
        })
    })
    // The whole blocks replace what streamed of them; deltas of this thread before now are in them.
    for (const kind of kinds) {
      this.entries.delete(draftKey(event.turnId, parent, kind))
      const closedKey = `${thread(parent)}:${kind}`
      this.closed.set(closedKey, Math.max(this.closed.get(closedKey) ?? 0, event.seq))
    }
  }

  /** A tool call's card, created by whichever of its events comes first and completed by the others. */
  private tool(
    toolUseId: string,
    order: number,
    ts: number,
    turnId: string,
    parent: string | null,
    fields: Partial<Pick<EntryOf<'tool'>, 'name' | 'input' | 'direct' | 'result' | 'files'>>,
  ): void {
    const key = `tool:${toolUseId}`
    const existing = this.entries.get(key) as EntryOf<'tool'> | undefined
    if (!existing) {
      this.put({
        key,
        order,
        seq: Math.floor(order),
        ts,
        turnId,
        parent,
        kind: 'tool',
        toolUseId,
        name: 'tool',
        input: undefined,
        direct: false,
        files: [],
        ...fields,
      })
      return
    }
    const earlier = order < existing.order
    this.put({
      ...existing,
      ...fields,
      // A result names its tool too, but the call's own name and input win.
      name:
        fields.input !== undefined || existing.name === 'tool'
          ? (fields.name ?? existing.name)
          : existing.name,
      input: fields.input !== undefined ? fields.input : existing.input,
      order: earlier ? order : existing.order,
      seq: earlier ? Math.floor(order) : existing.seq,
      ts: earlier ? ts : existing.ts,
      // file.changed does not say the thread; the call or its result does.
      parent: existing.parent ?? parent,
    })
  }
}
