/**
 * A tool call as a card: its status, name, what it was asked (in a line), how long it took; opened, its
 * input and result. Write and Edit show the code they wrote, highlighted; a `Task`/`Agent` call counts the
 * subagent's steps nested under it and folds them.
 */

import { Link } from '../../../router.js'
import { Badge } from '../../../ui/badge.js'
import { callStatusTone } from '../../../ui/status-pill.js'
import { CodeBlock } from './code.js'
import type { EntryOf } from './entry.js'
import type { ToolStatus } from './rows.js'

type Input = Record<string, unknown>
const str = (value: unknown) => (typeof value === 'string' ? value : undefined)

/** The input in a line: a command, a path, a pattern, a prompt. */
export function summaryOf(input: unknown): string {
  if (!input || typeof input !== 'object') return ''
  const fields = input as Input
  const first =
    str(fields.command) ??
    str(fields.file_path) ??
    str(fields.notebook_path) ??
    str(fields.path) ??
    str(fields.pattern) ??
    str(fields.url) ??
    str(fields.query) ??
    str(fields.description) ??
    str(fields.prompt)
  if (first !== undefined) return first.split('\n')[0]!
  const json = JSON.stringify(input)
  return json === '{}' ? '' : json.length > 120 ? `${json.slice(0, 120)}…` : json
}

export const isSubagentCall = (name: string) => name === 'Task' || name === 'Agent'

/** Write and Edit cards open on their code; the others open on demand. */
export const opensByDefault = (tool: EntryOf<'tool'>, status: ToolStatus) =>
  ['Write', 'Edit', 'MultiEdit', 'NotebookEdit'].includes(tool.name) || status === 'failed'

export function ToolCard({
  tool,
  status,
  open,
  onToggle,
  steps,
  stepsFolded,
  onToggleSteps,
  sessionId,
}: {
  tool: EntryOf<'tool'>
  status: ToolStatus
  open: boolean
  onToggle: () => void
  steps: number | undefined
  stepsFolded: boolean
  onToggleSteps: () => void
  sessionId: string
}) {
  const summary = summaryOf(tool.input)
  const subagent = isSubagentCall(tool.name)
    ? str((tool.input as Input | undefined)?.subagent_type)
    : undefined
  return (
    <article
      className="tool-card"
      data-status={status}
      data-tool={tool.name}
      aria-label={`${tool.name} call`}
    >
      <header className="tool-head">
        <button
          type="button"
          className="tool-toggle"
          aria-expanded={open}
          onClick={onToggle}
          title={open ? 'Hide input and result' : 'Show input and result'}
        >
          <span className="chevron" aria-hidden="true" />
          <span className="tool-name">{tool.name}</span>
          {subagent && <span className="muted">{subagent}</span>}
          <span className="tool-summary mono truncate">{summary}</span>
        </button>
        {tool.direct && <Badge tone="neutral">direct</Badge>}
        {tool.result?.durationMs != null && (
          <span className="muted num">{formatDuration(tool.result.durationMs)}</span>
        )}
        <Badge tone={callStatusTone(status)}>
          <span data-tool-status={status}>{status}</span>
        </Badge>
      </header>
      {open && <ToolBody tool={tool} sessionId={sessionId} />}
      {steps !== undefined && (
        <button type="button" className="tool-steps" aria-expanded={!stepsFolded} onClick={onToggleSteps}>
          {stepsFolded ? 'Show' : 'Hide'} the subagent’s {steps} step{steps === 1 ? '' : 's'}
        </button>
      )}
    </article>
  )
}

function ToolBody({ tool, sessionId }: { tool: EntryOf<'tool'>; sessionId: string }) {
  const { result } = tool
  return (
    <div className="tool-body">
      <ToolInput name={tool.name} input={tool.input} />
      {result && (
        <div className={result.isError ? 'tool-result tool-error' : 'tool-result'}>
          <div className="tool-section">{result.isError ? 'Error' : 'Result'}</div>
          {result.text ? <CodeBlock code={result.text} wrap /> : <p className="muted">No output.</p>}
        </div>
      )}
      {tool.files.length > 0 && (
        <ul className="tool-files">
          {tool.files.map((file) => (
            <li key={file.seq}>
              <Badge
                tone={file.kind === 'deleted' ? 'danger' : file.kind === 'created' ? 'success' : 'accent'}
              >
                {file.kind}
              </Badge>{' '}
              <Link
                to={`/sessions/${encodeURIComponent(sessionId)}/changes?path=${encodeURIComponent(file.path)}`}
                className="mono"
              >
                {file.path}
              </Link>
            </li>
          ))}
        </ul>
      )}
    </div>
  )
}

/** What the tool was asked: the code written for Write and Edit, the command for Bash, else the JSON. */
function ToolInput({ name, input }: { name: string; input: unknown }) {
  const fields = (input && typeof input === 'object' ? input : {}) as Input
  const path = str(fields.file_path) ?? str(fields.notebook_path)
  if (name === 'Write' && str(fields.content) !== undefined)
    return <CodeBlock code={str(fields.content)!} language={path} label={path} />
  if (name === 'Edit' && str(fields.new_string) !== undefined)
    return <EditBlocks path={path} edits={[fields]} />
  if (name === 'MultiEdit' && Array.isArray(fields.edits))
    return <EditBlocks path={path} edits={fields.edits as Input[]} />
  if (name === 'NotebookEdit' && str(fields.new_source) !== undefined)
    return (
      <CodeBlock
        code={str(fields.new_source)!}
        language={str(fields.cell_type) === 'markdown' ? 'md' : 'py'}
        label={path}
      />
    )
  if (name === 'Bash' && str(fields.command) !== undefined)
    return <CodeBlock code={str(fields.command)!} language="bash" label={str(fields.description)} />
  return <CodeBlock code={JSON.stringify(input, null, 2) ?? 'null'} language="json" label="Input" />
}

function EditBlocks({ path, edits }: { path: string | undefined; edits: readonly Input[] }) {
  return (
    <>
      {edits.map((edit, index) => (
        // biome-ignore lint/suspicious/noArrayIndexKey: the edits of one call never reorder.
        <div key={index} className="edit-pair">
          {str(edit.old_string) ? (
            <CodeBlock
              code={str(edit.old_string)!}
              language={path}
              label={index === 0 ? path : undefined}
              tone="removed"
            />
          ) : null}
          <CodeBlock code={str(edit.new_string) ?? ''} language={path} tone="added" />
        </div>
      ))}
    </>
  )
}

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`
  return `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`
}
