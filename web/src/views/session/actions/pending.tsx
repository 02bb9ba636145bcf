/**
 * The permission requests waiting for an answer, per session, shared by every component that shows them
 * (the prompts, a header's or a list row's indicator): one first list per session (`GET …/permissions`),
 * then the tab's one live stream keeps it current, whoever answers. A session nobody shows is forgotten.
 */
import { useCallback, useSyncExternalStore } from 'react'
import { api } from '../../../api/client.js'
import type { PermissionRequest } from '../../../api/types/permissions.js'
import { live } from '../../../live/live.js'
import { Badge } from '../../../ui/badge.js'
import { applyPermissionEvents, NO_PENDING, type PendingState, seedPending } from './model.js'

interface Tracked {
  state: PendingState
  listeners: Set<() => void>
  loading: boolean
}

const tracked = new Map<string, Tracked>()
let stopLive: (() => void) | undefined

function update(sessionId: string, change: (state: PendingState) => PendingState): void {
  const entry = tracked.get(sessionId)
  if (!entry) return
  const next = change(entry.state)
  if (next === entry.state) return
  entry.state = next
  for (const listener of entry.listeners) listener()
}

function load(sessionId: string, entry: Tracked): void {
  entry.loading = true
  api
    .get<{ items: PermissionRequest[] }>(`/sessions/${encodeURIComponent(sessionId)}/permissions`)
    .then(
      ({ items }) => update(sessionId, (state) => seedPending(state, items)),
      // A closed or deleted session has none; the stream still brings any new one.
      () => update(sessionId, (state) => ({ ...state, loaded: true })),
    )
    .finally(() => {
      entry.loading = false
    })
}

/**
 * `load`: fetch the first list (only a running turn can have requests waiting, so a list of idle sessions
 * need not ask); the stream's requests and answers are followed either way.
 */
function subscribe(sessionId: string, listener: () => void, shouldLoad: boolean): () => void {
  let entry = tracked.get(sessionId)
  if (!entry) {
    entry = { state: NO_PENDING, listeners: new Set(), loading: false }
    tracked.set(sessionId, entry)
  }
  entry.listeners.add(listener)
  if (shouldLoad && !entry.state.loaded && !entry.loading) load(sessionId, entry)
  stopLive ??= live.subscribe((event) => {
    if (tracked.has(event.sessionId))
      update(event.sessionId, (state) => applyPermissionEvents(state, [event], event.sessionId))
  })
  const own = entry
  return () => {
    own.listeners.delete(listener)
    if (own.listeners.size === 0) tracked.delete(sessionId)
    if (tracked.size === 0) {
      stopLive?.()
      stopLive = undefined
    }
  }
}

/** The session's pending permission requests, oldest first, kept live. */
export function usePendingPermissions(sessionId: string, { load = true } = {}): PendingState {
  const subscribeTo = useCallback(
    (listener: () => void) => subscribe(sessionId, listener, load),
    [sessionId, load],
  )
  return useSyncExternalStore(subscribeTo, () => tracked.get(sessionId)?.state ?? NO_PENDING)
}

/**
 * "2 permissions waiting", for a session's header or its row in a list; nothing when none waits. `running`
 * (the session's state is `running`) lets it ask the gateway for requests made before the page loaded.
 */
export function PendingPermissionsBadge({ sessionId, running }: { sessionId: string; running: boolean }) {
  const { requests } = usePendingPermissions(sessionId, { load: running })
  if (requests.length === 0) return null
  const label = `${requests.length} permission${requests.length === 1 ? '' : 's'} waiting`
  return (
    <span className="pending-permissions" data-pending-permissions={requests.length} title={label}>
      <Badge tone="warning">{label}</Badge>
    </span>
  )
}
