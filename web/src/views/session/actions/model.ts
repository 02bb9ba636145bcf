/**
 * The logic of the session's actions, as pure functions over plain data (no React, no DOM), so node:test
 * checks them: which actions a session's state allows and why not, the composer's keys and slash menu, the
 * pending permission requests folded from a first list and the live events, and where a fork ends.
 */
import { permissionRequestView } from '../../../../../src/api/native/permission-request-view.js'
import type { Command } from '../../../api/types/commands.js'
import type { LiveEvent } from '../../../api/types/events.js'
import type { HistoryItem } from '../../../api/types/history.js'
import type { PermissionRequest } from '../../../api/types/permissions.js'
import type { Session, SessionState } from '../../../api/types/sessions.js'

/** Why a message cannot be sent to the session now, or null when it can. */
export function sendBlocked(state: SessionState): string | null {
  if (state === 'closed') return 'This session is closed: it takes no more messages.'
  if (state === 'paused') return 'This session is paused: resume it to send messages.'
  return null
}

/** The session after the stream's events about it: its state and model; the same object when none. */
export function sessionAfter(session: Session, events: readonly LiveEvent[]): Session {
  let next = session
  for (const event of events) {
    if (event.sessionId !== session.id) continue
    if (event.type === 'session.state' && event.state !== next.state) next = { ...next, state: event.state }
    else if (event.type === 'model.changed' && event.model !== next.model)
      next = { ...next, model: event.model }
  }
  return next
}

/** What the controls offer in a state (a control that does not apply is not shown). */
export function controlsOf(state: SessionState) {
  const open = state !== 'closed'
  return {
    interrupt: state === 'running',
    // The gateway refuses to pause a session whose turn runs: interrupt first.
    pause: open && state !== 'paused' && state !== 'running',
    resume: state === 'paused',
    settings: open,
  }
}

export type ComposerKey = 'send' | 'menu-next' | 'menu-previous' | 'menu-pick' | 'menu-close' | null

export interface KeyInput {
  key: string
  shiftKey: boolean
  ctrlKey: boolean
  metaKey: boolean
  altKey: boolean
  /** An input method is composing (Japanese, Chinese...): Enter confirms the composition, it never sends. */
  isComposing: boolean
}

/**
 * What a key does in the composer: Enter sends, Shift+Enter is a new line (the textarea's own), and while
 * the slash menu is open the arrows move in it, Enter or Tab picks and Esc closes it. Null: the key is
 * the textarea's.
 */
export function composerKey(key: KeyInput, menuOpen: boolean): ComposerKey {
  if (key.isComposing || key.altKey) return null
  if (menuOpen) {
    if (key.key === 'ArrowDown') return 'menu-next'
    if (key.key === 'ArrowUp') return 'menu-previous'
    if ((key.key === 'Enter' && !key.shiftKey) || key.key === 'Tab') return 'menu-pick'
    if (key.key === 'Escape') return 'menu-close'
  }
  if (key.key === 'Enter' && !key.shiftKey) return 'send'
  return null
}

/** The command name being typed (`/com` → `com`), while the text is a slash and a name and nothing else. */
export function slashQuery(text: string): string | null {
  const match = /^\/(\S*)$/.exec(text)
  return match ? (match[1] ?? '') : null
}

/** `/name args…` as a command to run, or null when the text is no slash command. */
export function parseSlash(text: string): { name: string; args: string } | null {
  const match = /^\/([^/\s]+)(?:\s+([\s\S]*))?$/.exec(text.trim())
  return match ? { name: match[1] ?? '', args: (match[2] ?? '').trim() } : null
}

/**
 * The commands the menu offers for `query`: those that can run (loaded, not overridden), names starting
 * with it first, then names or aliases containing it; alphabetical within each group.
 */
export function matchingCommands(commands: readonly Command[], query: string, limit = 8): Command[] {
  const wanted = query.toLowerCase()
  const starts: Command[] = []
  const contains: Command[] = []
  for (const command of commands) {
    if (!command.loaded || command.overridden) continue
    const name = command.name.toLowerCase()
    if (name.startsWith(wanted)) starts.push(command)
    else if (name.includes(wanted) || command.aliases.some((alias) => alias.toLowerCase().includes(wanted)))
      contains.push(command)
  }
  const byName = (a: Command, b: Command) => a.name.localeCompare(b.name)
  return [...starts.sort(byName), ...contains.sort(byName)].slice(0, limit)
}

/** The menu's highlighted row after moving by `step`, wrapping around. */
export const moveSelection = (index: number, step: number, count: number) =>
  count === 0 ? 0 : (index + step + count) % count

export interface PendingState {
  /** The first list (`GET …/permissions`) has arrived. */
  loaded: boolean
  /** Oldest first. */
  requests: readonly PermissionRequest[]
  /** Answered requests: a list fetched before their answer came must not bring them back. */
  resolved: ReadonlySet<string>
}

export const NO_PENDING: PendingState = { loaded: false, requests: [], resolved: new Set() }

/** The first list merged with what the stream said meanwhile (requests it added, answers it gave). */
export function seedPending(state: PendingState, listed: readonly PermissionRequest[]): PendingState {
  const byId = new Map(state.requests.map((request) => [request.request_id, request]))
  // The list knows when each request expires; the stream does not.
  for (const request of listed)
    if (!state.resolved.has(request.request_id)) byId.set(request.request_id, request)
  return { ...state, loaded: true, requests: oldestFirst([...byId.values()]) }
}

/** The permission events of `sessionId` among `events`, folded in; the same state when none applies. */
export function applyPermissionEvents(
  state: PendingState,
  events: readonly LiveEvent[],
  sessionId: string,
): PendingState {
  let requests: PermissionRequest[] | undefined
  let resolved: Set<string> | undefined
  const current = () => requests ?? state.requests
  for (const event of events) {
    if (event.sessionId !== sessionId) continue
    if (event.type === 'permission.requested') {
      if ((resolved ?? state.resolved).has(event.requestId)) continue
      if (current().some((request) => request.request_id === event.requestId)) continue
      requests = [...current(), requestOf(event)]
    } else if (event.type === 'permission.resolved') {
      resolved ??= new Set(state.resolved)
      resolved.add(event.requestId)
      requests = current().filter((request) => request.request_id !== event.requestId)
    } else if (event.type === 'turn.completed') {
      // No request outlives its turn.
      if (current().some((request) => request.turn_id === event.turnId))
        requests = current().filter((request) => request.turn_id !== event.turnId)
    }
  }
  if (!requests && !resolved) return state
  return {
    ...state,
    requests: oldestFirst(requests ?? [...state.requests]),
    resolved: resolved ?? state.resolved,
  }
}

/** A request from the live stream, which does not say when it expires. */
const requestOf = (event: Extract<LiveEvent, { type: 'permission.requested' }>): PermissionRequest =>
  permissionRequestView(event, null)

const oldestFirst = (requests: PermissionRequest[]) =>
  requests.sort((a, b) => Date.parse(a.requested_at) - Date.parse(b.requested_at))

/**
 * The allow rules with `tool` allowed always: the gateway's answer has no "always", a session allow rule is
 * how it is said (it applies from the session's next turn). The list is unchanged when it already has it.
 */
export function alwaysAllowed(rules: readonly string[], tool: string): string[] {
  return rules.includes(tool) ? [...rules] : [...rules, tool]
}

/**
 * Where a fork from a history item ends (`at_message` of POST …/fork): an assistant message ends it with
 * that message, any other item of a turn after that turn's answer. Null: the item belongs to no turn.
 */
export function forkPoint(item: HistoryItem): string | null {
  if (item.type === 'assistant') return item.message_id
  return item.turn_id
}

/** A session's label in confirmations: its title, else the start of its id. */
export const sessionLabel = (session: Pick<Session, 'id' | 'title'>) =>
  session.title?.trim() || `session ${session.id.slice(0, 8)}`

/**
 * A tool input as people read it: a shell command as the command line, a string as it is, anything else as
 * indented JSON.
 */
export function inputText(input: unknown): string {
  if (typeof input === 'string') return input
  const command = (input as { command?: unknown } | null)?.command
  if (typeof command === 'string') return `$ ${command}`
  return JSON.stringify(input, null, 2) ?? String(input)
}
