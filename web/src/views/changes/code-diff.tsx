/**
 * A file's change as a highlighted diff, unified or split (the remembered choice: preference.ts). The patch
 * is computed by `diff` (structuredPatch), loaded the first time a diff shows; both sides are highlighted
 * whole by the shared highlighter (ui/highlight.ts) so that every line gets the colours of its context,
 * then placed line by line. Long diffs show their first rows and a "show more".
 */
import type { StructuredPatch } from 'diff'
import { type CSSProperties, useEffect, useMemo, useState } from 'react'
import { Button } from '../../ui/button.js'
import { languageOf, type Token, tokensNow, useGrammar } from '../../ui/highlight.js'
import { Spinner } from '../../ui/spinner.js'
import {
  capped,
  type DiffLine,
  type DiffMode,
  firstLines,
  lastLines,
  type SplitRow,
  splitRows,
  type UnifiedRow,
  unifiedRows,
} from './diff-rows.js'
import { diffMode } from './preference.js'

/** Rows shown at first, and added by each "show more". */
const ROWS_PER_STEP = 400
/** Past this, a side shows plain: highlighting blocks the page for as long as it takes. */
const MAX_HIGHLIGHTED_CHARS = 150_000
/** Two contents too different to compare by this deadline show as too large to diff. */
const DIFF_TIMEOUT_MS = 1500

type DiffLibrary = typeof import('diff')
let library: Promise<DiffLibrary> | undefined
/** The library once loaded: later diffs compute in their first render. */
let loadedLibrary: DiffLibrary | undefined
const loadDiff = () => {
  library ??= import('diff').then((module) => {
    loadedLibrary = module
    return module
  })
  // A chunk that failed to load (the gateway restarted with a new build) is fetched again next time.
  library.catch(() => {
    library = undefined
  })
  return library
}

export interface CodeDiffProps {
  /** The content before; null: the file did not exist. */
  before: string | null
  /** The content after; null: the file was deleted. */
  after: string | null
  /** The file's path: it picks the grammar. */
  path: string
  /** Unified or split; by default the layout the user last chose. */
  mode?: DiffMode
}

export function CodeDiff({ before, after, path, mode }: CodeDiffProps) {
  const remembered = diffMode.use()
  const layout = mode ?? remembered
  const diff = useDiffLibrary()
  const patch = useMemo<StructuredPatch | undefined | 'timeout'>(() => {
    if (!diff || diff === 'failed') return undefined
    const computed = diff.structuredPatch(path, path, before ?? '', after ?? '', undefined, undefined, {
      context: 3,
      timeout: DIFF_TIMEOUT_MS,
    })
    return computed ?? 'timeout'
  }, [diff, path, before, after])
  const rows = useMemo(
    () =>
      patch === undefined || patch === 'timeout'
        ? undefined
        : layout === 'split'
          ? splitRows(patch)
          : unifiedRows(patch),
    [patch, layout],
  )
  const [limit, setLimit] = useState(ROWS_PER_STEP)
  const { shown, hidden } = useMemo(() => capped<UnifiedRow | SplitRow>(rows ?? [], limit), [rows, limit])
  // Highlighting runs from each file's top (a line's colours depend on what precedes it) down to the last
  // line shown, not to the end of a long file.
  const last = useMemo(() => lastLines(shown), [shown])
  const language = languageOf(path)
  const oldTokens = useTokens(before === null ? null : firstLines(before, last.old), language)
  const newTokens = useTokens(after === null ? null : firstLines(after, last.new), language)

  if (diff === 'failed')
    return <p className="diff-note">The diff viewer could not be loaded: reload the page to try again.</p>
  if (before === null && after === null)
    return <p className="diff-note">The file did not exist at either point.</p>
  if (patch === 'timeout')
    return (
      <p className="diff-note">
        These two versions are too different to compare line by line in time: pick nearer points.
      </p>
    )
  if (!rows) return <Spinner label="Computing the diff" />
  if (rows.length === 0) return <p className="diff-note">No difference: the content is the same.</p>

  const code = (line: DiffLine | null) => {
    if (!line) return null
    // A context line is the same on both sides: the new side's colours do.
    const [tokens, number] = line.kind === 'removed' ? [oldTokens, line.old] : [newTokens, line.new]
    return <Code text={line.text} tokens={number === undefined ? undefined : tokens?.[number - 1]} />
  }
  return (
    <div className="code-diff" data-mode={layout}>
      <table className={`diff diff-${layout}`}>
        {/* Fixed widths for the numbers and markers: the code columns share the rest. */}
        {layout === 'split' ? (
          <colgroup>
            <col className="diff-number-col" />
            <col />
            <col className="diff-number-col" />
            <col />
          </colgroup>
        ) : (
          <colgroup>
            <col className="diff-number-col" />
            <col className="diff-number-col" />
            <col className="diff-marker-col" />
            <col />
          </colgroup>
        )}
        <tbody>
          {shown.map((row, index) => {
            if (row.type === 'hunk')
              return (
                // biome-ignore lint/suspicious/noArrayIndexKey: rows are positional and only ever appended.
                <tr key={index} className="diff-hunk">
                  <td colSpan={4}>
                    {row.skipped > 0 && (
                      <span className="diff-skipped">
                        ⋯ {row.skipped} unchanged line{row.skipped === 1 ? '' : 's'}
                      </span>
                    )}
                    <span className="mono">{row.header}</span>
                  </td>
                </tr>
              )
            if (row.type === 'no-newline')
              return (
                // biome-ignore lint/suspicious/noArrayIndexKey: as above.
                <tr key={index} className="diff-meta">
                  <td colSpan={4}>{NO_NEWLINE[row.side]}</td>
                </tr>
              )
            if (row.type === 'line')
              return (
                // biome-ignore lint/suspicious/noArrayIndexKey: as above.
                <tr key={index} className={`diff-${row.line.kind}`}>
                  <td className="diff-number">{row.line.old}</td>
                  <td className="diff-number">{row.line.new}</td>
                  <td className="diff-marker" aria-label={MARKER_LABELS[row.line.kind]}>
                    {MARKERS[row.line.kind]}
                  </td>
                  <td className="diff-code">{code(row.line)}</td>
                </tr>
              )
            return (
              // biome-ignore lint/suspicious/noArrayIndexKey: as above.
              <tr key={index}>
                <td className={`diff-number ${sideClass(row.left)}`}>{row.left?.old}</td>
                <td className={`diff-code ${sideClass(row.left)}`}>{code(row.left)}</td>
                <td className={`diff-number ${sideClass(row.right)}`}>{row.right?.new}</td>
                <td className={`diff-code ${sideClass(row.right)}`}>{code(row.right)}</td>
              </tr>
            )
          })}
        </tbody>
      </table>
      {hidden > 0 && (
        <div className="diff-more">
          <Button onClick={() => setLimit((count) => count + ROWS_PER_STEP)}>
            Show {Math.min(hidden, ROWS_PER_STEP)} more rows
          </Button>
          <span className="muted">{hidden} not shown</span>
        </div>
      )}
    </div>
  )
}

/** The unified / split switch; every diff on the page follows it. */
export function DiffModeToggle() {
  const mode = diffMode.use()
  return (
    // biome-ignore lint/a11y/useSemanticElements: a group of two toggle buttons, as a segmented control.
    <div className="segmented" role="group" aria-label="Diff layout">
      {(['unified', 'split'] as const).map((each) => (
        <button key={each} type="button" aria-pressed={mode === each} onClick={() => diffMode.set(each)}>
          {each === 'unified' ? 'Unified' : 'Split'}
        </button>
      ))}
    </div>
  )
}

const NO_NEWLINE = {
  old: 'No newline at the end of the old file',
  new: 'No newline at the end of the new file',
  both: 'No newline at the end of either file',
} as const
const MARKERS = { added: '+', removed: '−', context: ' ' } as const
const MARKER_LABELS = { added: 'added', removed: 'removed', context: undefined } as const

/** A split row's side: its kind, or empty when nothing is on that side. */
const sideClass = (line: DiffLine | null) => (line ? `diff-${line.kind}` : 'diff-empty')

function Code({ text, tokens }: { text: string; tokens: Token[] | undefined }) {
  // A line the highlighter split otherwise (a lone \r) shows plain rather than wrong.
  if (!tokens || tokens.map((token) => token.content).join('') !== text.replace(/\r$/, '')) return <>{text}</>
  return (
    <>
      {tokens.map((token, index) => (
        // biome-ignore lint/suspicious/noArrayIndexKey: tokens are positional.
        <span key={index} style={token.style as CSSProperties | undefined}>
          {token.content}
        </span>
      ))}
    </>
  )
}

function useDiffLibrary(): DiffLibrary | 'failed' | undefined {
  const [loaded, setLoaded] = useState<DiffLibrary | 'failed' | undefined>(() => loadedLibrary)
  useEffect(() => {
    if (loaded) return
    let current = true
    loadDiff().then(
      (module) => {
        if (current) setLoaded(module)
      },
      () => {
        if (current) setLoaded('failed')
      },
    )
    return () => {
      current = false
    }
  }, [loaded])
  return loaded
}

/** A side's lines highlighted; undefined (plain) until the grammar is there, or for large or unknown code. */
function useTokens(code: string | null, language: string | undefined): Token[][] | undefined {
  const wanted = code !== null && language !== undefined && code.length <= MAX_HIGHLIGHTED_CHARS
  const loaded = useGrammar(wanted ? language : undefined)
  return useMemo(
    () => (loaded && code !== null && language ? tokensNow(code, language) : undefined),
    [loaded, code, language],
  )
}
