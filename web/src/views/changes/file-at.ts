/**
 * A changed file's content at two points, from GET /api/sessions/{id}/changes/file. What a session wrote
 * never changes, so an answer between two sequence numbers is kept for the page's life; one that ends
 * "now" is asked again whenever the session's changes move on (`version`).
 */
import { useEffect, useState } from 'react'
import { api } from '../../api/client.js'
import type { FileComparison } from '../../api/types/changes.js'

/** Answers kept, oldest dropped first: a few hundred diffs' worth is plenty for one page. */
const CACHE_SIZE = 300
const cache = new Map<string, FileComparison>()

export interface FileAtRequest {
  session: string
  path: string
  from: number
  /** undefined: now. */
  to: number | undefined
}

export type FileAtState =
  | { status: 'idle' }
  | { status: 'loading' }
  | { status: 'loaded'; comparison: FileComparison }
  | { status: 'failed'; error: unknown }

const keyOf = ({ session, path, from, to }: FileAtRequest, version: number) =>
  JSON.stringify([session, path, from, to ?? `now@${version}`])

/**
 * The comparison for `request`, fetched when `enabled` (a card scrolled near the screen); `version` is
 * what "now" means (the rollup's last change), so a later change refetches an open-ended comparison.
 */
export function useFileAt(
  request: FileAtRequest | undefined,
  enabled: boolean,
  version: number,
): [FileAtState, retry: () => void] {
  const key = request ? keyOf(request, version) : undefined
  const [state, setState] = useState<{ key: string | undefined; value: FileAtState }>({
    key: undefined,
    value: { status: 'idle' },
  })
  const [attempt, setAttempt] = useState(0)
  // `request` is fully described by `key`; `attempt` asks again after a failure.
  // biome-ignore lint/correctness/useExhaustiveDependencies: see above.
  useEffect(() => {
    if (!request || !key || !enabled) return
    const cached = cache.get(key)
    if (cached) {
      setState({ key, value: { status: 'loaded', comparison: cached } })
      return
    }
    const controller = new AbortController()
    setState({ key, value: { status: 'loading' } })
    const { session, path, from, to } = request
    api
      .get<FileComparison>(`/sessions/${encodeURIComponent(session)}/changes/file`, {
        query: { path, from, to },
        signal: controller.signal,
      })
      .then(
        (comparison) => {
          cache.set(key, comparison)
          if (cache.size > CACHE_SIZE) cache.delete(cache.keys().next().value!)
          setState({ key, value: { status: 'loaded', comparison } })
        },
        (error: unknown) => {
          if (!controller.signal.aborted) setState({ key, value: { status: 'failed', error } })
        },
      )
    return () => controller.abort()
  }, [key, enabled, attempt])
  const retry = () => setAttempt((count) => count + 1)
  const cached = key ? cache.get(key) : undefined
  if (cached) return [{ status: 'loaded', comparison: cached }, retry]
  const pending: FileAtState = enabled ? { status: 'loading' } : { status: 'idle' }
  return [state.key === key ? state.value : pending, retry]
}
