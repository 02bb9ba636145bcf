/**
 * The page's side of the live stream: the tab's one LiveStream, started by the app, its key from
 * `credentials`, and the hooks views use. A view that shows one session subscribes here too and keeps
 * the events of that session (`event.sessionId`): there is never a second connection.
 */
import { useEffect, useRef, useSyncExternalStore } from 'react'
import { credentials } from '../api/credentials.js'
import type { LiveEvent } from '../api/types/events.js'
import { frameBatcher } from './batch.js'
import { type ConnectionStatus, LiveStream } from './stream.js'

export const live = new LiveStream({ headers: credentials.headers, onUnauthorized: credentials.refused })

// A key given after a 401 reconnects the stream at once, from where it was; so does another key (signed out,
// or someone else signed in): what the stream may carry is the new key holder's.
let streamKey = credentials.get().key
credentials.subscribe(() => {
  const { key } = credentials.get()
  const changed = key !== streamKey
  streamKey = key
  if (live.status === 'stopped') return
  if ((key !== null && live.status === 'unauthorized') || (changed && live.status !== 'unauthorized'))
    live.reconnect()
})

const nextFrame = (run: () => void) => void requestAnimationFrame(run)

/** Calls `handler` with the events of each animation frame, in stream order. */
export function useLiveEvents(handler: (events: LiveEvent[]) => void): void {
  const latest = useRef(handler)
  latest.current = handler
  useEffect(() => {
    const push = frameBatcher<LiveEvent>((events) => latest.current(events), nextFrame)
    return live.subscribe(push)
  }, [])
}

export function useConnectionStatus(): ConnectionStatus {
  return useSyncExternalStore(
    (listener) => live.onStatus(listener),
    () => live.status,
  )
}
