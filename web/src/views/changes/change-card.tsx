/**
 * One change of a file as a card: what made it and when, then its diff (the file just before the change
 * and just after it), fetched once the card comes near the screen so that a long list costs nothing until
 * it is read.
 */
import { type ReactNode, type RefObject, useEffect, useRef, useState } from 'react'
import { ApiError } from '../../api/client.js'
import type { FileChange, FileComparison } from '../../api/types/changes.js'
import { Badge } from '../../ui/badge.js'
import { Button } from '../../ui/button.js'
import { RelativeTime } from '../../ui/relative-time.js'
import { Spinner } from '../../ui/spinner.js'
import { CodeDiff } from './code-diff.js'
import { type FileAtState, useFileAt } from './file-at.js'
import { STATUS_TONES } from './file-list.js'
import { changeRange, countsText, relativeTo } from './model.js'

export function ChangeCard({
  session,
  change,
  base,
  version,
}: {
  session: string
  change: FileChange
  base: string
  version: number
}) {
  const ref = useRef<HTMLElement>(null)
  const near = useNearScreen(ref)
  const [state, retry] = useFileAt({ session, path: change.path, ...changeRange(change) }, near, version)
  return (
    <article
      ref={ref}
      className="change-card"
      data-change-seq={change.seq}
      aria-label={`Change #${change.seq}`}
    >
      <header className="change-card-head">
        <Badge tone={STATUS_TONES[change.kind]}>{change.kind}</Badge>
        <span className="change-card-path mono truncate" title={change.path}>
          {relativeTo(change.path, base)}
        </span>
        <span className="changes-counts mono">{countsText(change.added, change.removed)}</span>
        <span className="change-card-meta muted">
          {change.tool} · #{change.seq} · <RelativeTime time={change.ts} />
        </span>
      </header>
      <ComparisonBody state={state} retry={retry} path={change.path} />
    </article>
  )
}

/** A comparison's diff, or why there is none and what to do. */
export function ComparisonBody({
  state,
  retry,
  path,
}: {
  state: FileAtState
  retry: () => void
  path: string
}): ReactNode {
  if (state.status === 'idle') return <div className="change-card-placeholder" />
  if (state.status === 'loading') return <Spinner label="Loading the file at both points" />
  if (state.status === 'failed') return <ComparisonError error={state.error} retry={retry} />
  const unknown = unknownSide(state.comparison)
  if (unknown) return <p className="diff-note">{unknown}</p>
  return <CodeDiff before={state.comparison.from.content} after={state.comparison.to.content} path={path} />
}

function unknownSide({ from, to }: FileComparison): string | undefined {
  if (!from.known && !to.known) return 'The tools did not report this file’s content at either point.'
  if (!from.known)
    return 'The file’s content before is unknown: the tool that changed it did not report it (a shell command, say).'
  if (!to.known) return 'The file’s content after is unknown: the tool that changed it did not report it.'
  return undefined
}

function ComparisonError({ error, retry }: { error: unknown; retry: () => void }) {
  if (error instanceof ApiError && error.code === 'too_large')
    return (
      <p className="diff-note">
        This file is larger than the gateway shows ({error.message}). Raise{' '}
        <code>native.changeContentMaxBytes</code> to see it.
      </p>
    )
  return (
    <div className="diff-note diff-error" role="alert">
      The file could not be loaded: {error instanceof Error ? error.message : String(error)}{' '}
      <Button variant="ghost" onClick={retry}>
        Retry
      </Button>
    </div>
  )
}

/** True once the element has come within a screen of the viewport (and from then on). */
function useNearScreen(ref: RefObject<HTMLElement | null>): boolean {
  const [near, setNear] = useState(false)
  useEffect(() => {
    const element = ref.current
    if (!element || near) return
    const observer = new IntersectionObserver(
      (entries) => {
        if (entries.some((entry) => entry.isIntersecting)) setNear(true)
      },
      { rootMargin: '100% 0px' },
    )
    observer.observe(element)
    return () => observer.disconnect()
  }, [ref, near])
  return near
}
