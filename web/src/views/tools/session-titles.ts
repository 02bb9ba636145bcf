/**
 * The titles of the sessions the calls list names, so a row says "Fix the build", not just an id: each
 * fetched once (GET /api/sessions/{id}) while the tab lives, a few at a time, and shared by every row.
 */
import { useEffect, useSyncExternalStore } from 'react'
import { ApiError, api } from '../../api/client.js'
import type { Session } from '../../api/types/sessions.js'

/** Title by session id: null when the session has none, or is gone. */
const titles = new Map<string, string | null>()
const asked = new Set<string>()
const listeners = new Set<() => void>()
let version = 0

const AT_ONCE = 8

function subscribe(listener: () => void): () => void {
  listeners.add(listener)
  return () => listeners.delete(listener)
}

async function fetchTitles(ids: string[]): Promise<void> {
  for (let start = 0; start < ids.length; start += AT_ONCE) {
    await Promise.all(
      ids.slice(start, start + AT_ONCE).map(async (id) => {
        try {
          titles.set(id, (await api.get<Session>(`/sessions/${encodeURIComponent(id)}`)).title)
        } catch (error) {
          // Gone: no title. Anything else (no key yet, the gateway away): asked again when next needed.
          if (error instanceof ApiError && error.status === 404) titles.set(id, null)
          else asked.delete(id)
        }
      }),
    )
    version += 1
    for (const listener of listeners) listener()
  }
}

/** Looks up the titles of `ids` not asked for yet; re-renders as they arrive. */
export function useSessionTitles(ids: readonly string[]): ReadonlyMap<string, string | null> {
  useSyncExternalStore(subscribe, () => version)
  const wanted = ids.filter((id) => !asked.has(id))
  const key = wanted.join(' ')
  // biome-ignore lint/correctness/useExhaustiveDependencies: `key` stands for `wanted`.
  useEffect(() => {
    if (wanted.length === 0) return
    for (const id of wanted) asked.add(id)
    void fetchTitles(wanted)
  }, [key])
  return titles
}
