/**
 * The conversation as a virtualised list (rows measured as they render, so a session of any length keeps
 * a few dozen in the page): older pages load as the top comes into view, the view keeps to the bottom
 * while Claude writes unless the user scrolled up, and a search jumps from match to match among the rows
 * the kind filters leave.
 */
import { useVirtualizer } from '@tanstack/react-virtual'
import { type ReactNode, useCallback, useEffect, useLayoutEffect, useMemo, useRef, useState } from 'react'
import { Button } from '../../../ui/button.js'
import { EmptyState } from '../../../ui/empty-state.js'
import { ErrorState } from '../../../ui/error-state.js'
import { SearchBox } from '../../../ui/list-view.js'
import { Spinner } from '../../../ui/spinner.js'
import type { EntryOf } from './entry.js'
import { EntryRow } from './entry-row.js'
import { KINDS, type Kind, matchesOf, rowsOf } from './rows.js'
import { markMatches } from './search-marks.js'
import type { Timeline as TimelineData } from './use-timeline.js'

const KIND_LABELS: Record<Kind, string> = {
  text: 'Text',
  thinking: 'Thinking',
  tools: 'Tools',
  decisions: 'Decisions',
}

/** A first guess of each row's height, until it is measured. */
const ESTIMATES = { user: 90, text: 110, thinking: 80, tool: 56, decision: 36 } as const
/** Closer to the bottom than this, the view follows what streams in. */
const STICK_PX = 80

/** The set with `key` added, or removed if it was there. */
function flip<T>(set: ReadonlySet<T>, key: T): ReadonlySet<T> {
  const next = new Set(set)
  if (!next.delete(key)) next.add(key)
  return next
}

export function Timeline({
  sessionId,
  timeline,
  messageActions,
}: {
  sessionId: string
  timeline: TimelineData
  messageActions?: (entry: EntryOf<'user'> | EntryOf<'text'>) => ReactNode
}) {
  const { state, coverage, error, loadingOlder, hasOlder, loadOlder, loadAll, retry } = timeline
  const [kinds, setKinds] = useState<ReadonlySet<Kind>>(() => new Set(KINDS))
  const [folded, setFolded] = useState<ReadonlySet<string>>(() => new Set())
  const [toggled, setToggled] = useState<ReadonlySet<string>>(() => new Set())
  const [query, setQuery] = useState('')
  const [current, setCurrent] = useState(0)

  const rows = useMemo(() => rowsOf(state, { kinds, collapsed: folded }), [state, kinds, folded])
  const matches = useMemo(() => matchesOf(rows, query), [rows, query])
  const matchSet = useMemo(() => new Set(matches), [matches])
  const currentRow = matches.length > 0 ? matches[Math.min(current, matches.length - 1)] : undefined

  const scroller = useRef<HTMLElement>(null)
  const virtualizer = useVirtualizer({
    count: rows.length,
    getScrollElement: () => scroller.current,
    estimateSize: (index) => ESTIMATES[rows[index]?.entry.kind ?? 'text'],
    getItemKey: (index) => rows[index]?.entry.key ?? index,
    overscan: 6,
    // Room under the last row for the floating Start / Latest buttons.
    paddingStart: 8,
    paddingEnd: 56,
  })
  const items = virtualizer.getVirtualItems()

  // Following the bottom: on at first, off when the user scrolls up, on again at the bottom.
  const stick = useRef(true)
  const onScroll = () => {
    const element = scroller.current
    if (element) stick.current = element.scrollHeight - element.scrollTop - element.clientHeight < STICK_PX
  }
  const totalSize = virtualizer.getTotalSize()
  // biome-ignore lint/correctness/useExhaustiveDependencies: new rows or new heights move the bottom.
  useLayoutEffect(() => {
    const element = scroller.current
    if (element && stick.current && rows.length > 0) element.scrollTop = element.scrollHeight
  }, [rows, totalSize])

  // Older rows come in above: the row at the top stays where it was on screen.
  const anchor = useRef<{ key: unknown; offset: number } | undefined>(undefined)
  const firstKey = rows[0]?.entry.key
  // biome-ignore lint/correctness/useExhaustiveDependencies: only a new first row means rows came in above.
  useLayoutEffect(() => {
    const kept = anchor.current
    const element = scroller.current
    if (!kept || !element) return
    anchor.current = undefined
    const index = rows.findIndex((row) => row.entry.key === kept.key)
    const offset = index >= 0 ? virtualizer.getOffsetForIndex(index, 'start')?.[0] : undefined
    if (offset !== undefined) element.scrollTop = offset + kept.offset
  }, [firstKey])
  const older = useCallback(async () => {
    const element = scroller.current
    const top = virtualizer.getVirtualItems().find((item) => item.end > (element?.scrollTop ?? 0))
    if (top && element) anchor.current = { key: top.key, offset: element.scrollTop - top.start }
    await loadOlder().catch(() => {})
  }, [loadOlder, virtualizer])
  const firstIndex = items[0]?.index
  useEffect(() => {
    if (firstIndex !== undefined && firstIndex < 3 && hasOlder && !loadingOlder && !stick.current)
      void older()
  }, [firstIndex, hasOlder, loadingOlder, older])
  // A first page that does not fill the screen cannot be scrolled up: the next one loads at once.
  // biome-ignore lint/correctness/useExhaustiveDependencies: `totalSize` is when the heights are known.
  useEffect(() => {
    const element = scroller.current
    if (
      element &&
      hasOlder &&
      !loadingOlder &&
      coverage.started &&
      element.scrollHeight <= element.clientHeight
    )
      void older()
  }, [hasOlder, loadingOlder, coverage.started, older, totalSize])

  // biome-ignore lint/correctness/useExhaustiveDependencies: a new query jumps even to the same row.
  useEffect(() => {
    if (currentRow === undefined) return
    stick.current = false
    virtualizer.scrollToIndex(currentRow, { align: 'center' })
  }, [currentRow, query, virtualizer])
  useLayoutEffect(() => {
    if (scroller.current) markMatches(scroller.current, query)
  })

  const toStart = async () => {
    stick.current = false
    await loadAll().catch(() => {})
    virtualizer.scrollToIndex(0, { align: 'start' })
  }
  const toEnd = () => {
    stick.current = true
    const element = scroller.current
    if (element) element.scrollTop = element.scrollHeight
  }
  const onToggle = useCallback((key: string) => setToggled((set) => flip(set, key)), [])
  const onFold = useCallback((id: string) => setFolded((set) => flip(set, id)), [])
  const step = (by: number) => {
    if (matches.length === 0) return
    setCurrent((index) => (Math.min(index, matches.length - 1) + by + matches.length) % matches.length)
  }

  return (
    <div className="timeline">
      <search className="toolbar timeline-toolbar">
        <SearchBox
          label="Search this session"
          placeholder="Search text, thinking and tool calls"
          value={query}
          onChange={(text) => {
            setQuery(text)
            setCurrent(0)
          }}
          onKeyDown={(event) => {
            if (event.key === 'Enter') step(event.shiftKey ? -1 : 1)
          }}
        />
        {query.trim() && (
          <span className="muted" aria-live="polite" data-match-count>
            {matches.length === 0
              ? 'No match'
              : `${Math.min(current, matches.length - 1) + 1} of ${matches.length}`}
          </span>
        )}
        <Button
          variant="ghost"
          onClick={() => step(-1)}
          disabled={matches.length === 0}
          aria-label="Previous match"
        >
          ↑
        </Button>
        <Button
          variant="ghost"
          onClick={() => step(1)}
          disabled={matches.length === 0}
          aria-label="Next match"
        >
          ↓
        </Button>
        {query.trim() && hasOlder && (
          <Button variant="ghost" onClick={() => void loadAll().catch(() => {})} disabled={loadingOlder}>
            Search the older history too
          </Button>
        )}
        <fieldset className="chips" aria-label="Show">
          {KINDS.map((kind) => (
            <button
              key={kind}
              type="button"
              className="chip"
              aria-pressed={kinds.has(kind)}
              onClick={() => setKinds((set) => flip(set, kind))}
            >
              {KIND_LABELS[kind]}
            </button>
          ))}
        </fieldset>
        {loadingOlder && <Spinner label="Loading older history" />}
      </search>

      {error !== undefined && !coverage.started ? (
        <ErrorState error={error} what="The conversation" onRetry={retry} />
      ) : !coverage.started && rows.length === 0 ? (
        <Spinner label="Loading the conversation" visibleLabel />
      ) : rows.length === 0 ? (
        state.entries.size > 0 ? (
          <EmptyState
            title="Nothing of these kinds"
            action={<Button onClick={() => setKinds(new Set(KINDS))}>Show everything</Button>}
          >
            <p>The filters hide every row of this session.</p>
          </EmptyState>
        ) : (
          <EmptyState title="No conversation yet">
            <p>
              Send the first message below: Claude’s answer streams in here, with its thinking and each tool
              call.
            </p>
          </EmptyState>
        )
      ) : (
        <div className="timeline-frame">
          <section
            className="timeline-scroll"
            ref={scroller}
            onScroll={onScroll}
            data-timeline
            aria-label="Conversation"
            // biome-ignore lint/a11y/noNoninteractiveTabindex: focusable, so that the keyboard scrolls it (arrows, Page Up/Down, Home/End).
            tabIndex={0}
          >
            <div className="timeline-inner" style={{ height: totalSize }}>
              {items.map((item) => {
                const row = rows[item.index]!
                return (
                  <div
                    key={item.key}
                    data-index={item.index}
                    ref={virtualizer.measureElement}
                    className="timeline-item"
                    style={{ transform: `translateY(${item.start}px)` }}
                  >
                    <EntryRow
                      row={row}
                      sessionId={sessionId}
                      toggled={toggled.has(row.entry.key)}
                      folded={row.entry.kind === 'tool' && folded.has(row.entry.toolUseId)}
                      onToggle={onToggle}
                      onFold={onFold}
                      match={
                        item.index === currentRow ? 'current' : matchSet.has(item.index) ? 'other' : undefined
                      }
                      {...(messageActions ? { messageActions } : {})}
                    />
                  </div>
                )
              })}
            </div>
          </section>
          <div className="timeline-jumps">
            <Button
              variant="ghost"
              onClick={() => void toStart()}
              aria-label="Go to the start of the conversation"
            >
              ⤒ Start
            </Button>
            <Button variant="ghost" onClick={toEnd} aria-label="Go to the latest">
              ⤓ Latest
            </Button>
          </div>
        </div>
      )}
    </div>
  )
}
