/**
 * The direct tools (GET /api/tools), run from here in a chosen session's workspace
 * (POST /api/sessions/{id}/tools/{name}): a form made from the tool's input schema, and its result. The
 * call is recorded in the session like Claude's own, so it also shows in the tool calls tab.
 */
import { type ReactNode, useCallback, useEffect, useId, useMemo, useRef, useState } from 'react'
import { ApiError, api } from '../../api/client.js'
import type { ToolDescription } from '../../api/types/tools.js'
import { Button } from '../../ui/button.js'
import { EmptyState } from '../../ui/empty-state.js'
import { ErrorState } from '../../ui/error-state.js'
import { useLoad } from '../../ui/list-view.js'
import { Spinner } from '../../ui/spinner.js'
import { type FormField, type FormValues, fieldsOf, formFieldOf, inputOf } from './schema-form.js'
import { SessionPicker } from './session-picker.js'

type Outcome = { result: Record<string, unknown> } | { error: string }

/** Fields of text take the form's width; numbers and choices share a row. */
const WIDE = new Set<FormField['kind']>(['text', 'multiline', 'json'])

export function RunPanel({ hidden, sessionId }: { hidden: boolean; sessionId: string | null }) {
  const [tools, setTools] = useState<ToolDescription[]>()
  const [error, setError] = useState<unknown>()
  const [chosen, setChosen] = useState('')

  const load = useCallback(async () => {
    try {
      const answer = await api.get<{ tools: ToolDescription[] }>('/tools')
      setTools(answer.tools)
      setChosen((name) => name || (answer.tools[0]?.name ?? ''))
      setError(undefined)
    } catch (failure) {
      setError(failure)
    }
  }, [])
  useLoad(load)

  const tool = tools?.find((each) => each.name === chosen)
  return (
    <div className="tab-panel run-panel" hidden={hidden}>
      <SessionPicker sessionId={sessionId} />
      {error !== undefined ? (
        <ErrorState error={error} what="The tools" onRetry={() => void load()} />
      ) : !tools ? (
        <Spinner label="Loading tools" visibleLabel />
      ) : (
        <div className="run-grid">
          <div className="tool-choice" role="radiogroup" aria-label="Tool">
            {tools.map((each) => (
              <label key={each.name} className="tool-option" data-checked={each.name === chosen || undefined}>
                <input
                  type="radio"
                  name="direct-tool"
                  checked={each.name === chosen}
                  onChange={() => setChosen(each.name)}
                />
                <span className="tool-option-name">{each.name}</span>
                <span className="muted">like {each.claude_code_name}</span>
              </label>
            ))}
          </div>
          {tool && sessionId ? (
            <ToolForm key={`${tool.name} ${sessionId}`} tool={tool} sessionId={sessionId} />
          ) : (
            <EmptyState title="Choose a session">
              <p>A tool runs in a session's workspace, and is recorded in that session: choose one above.</p>
            </EmptyState>
          )}
        </div>
      )}
    </div>
  )
}

function ToolForm({ tool, sessionId }: { tool: ToolDescription; sessionId: string }) {
  const fields = useMemo(() => fieldsOf(tool.input_schema), [tool])
  const [values, setValues] = useState<FormValues>({})
  const [errors, setErrors] = useState<Record<string, string>>({})
  const [running, setRunning] = useState(false)
  const [outcome, setOutcome] = useState<Outcome>()

  const run = async () => {
    const { input, errors: typed } = inputOf(fields, values)
    setErrors(typed)
    if (Object.keys(typed).length > 0) return
    setRunning(true)
    setOutcome(undefined)
    try {
      const result = await api.post<Record<string, unknown>>(
        `/sessions/${encodeURIComponent(sessionId)}/tools/${encodeURIComponent(tool.name)}`,
        input,
      )
      setOutcome({ result })
    } catch (failure) {
      const message = failure instanceof Error ? failure.message : String(failure)
      const field = failure instanceof ApiError ? formFieldOf(failure.field, fields) : undefined
      if (field) setErrors({ [field]: message })
      setOutcome({ error: failure instanceof ApiError ? `${message} (${failure.code})` : message })
    } finally {
      setRunning(false)
    }
  }

  return (
    <div className="tool-run">
      <form
        className="card"
        aria-label={`Run ${tool.name}`}
        onSubmit={(event) => {
          event.preventDefault()
          void run()
        }}
      >
        <h2>{tool.name}</h2>
        <p className="muted">{tool.description}</p>
        <div className="schema-fields">
          {fields.map((field) => (
            <SchemaField
              key={field.name}
              field={field}
              value={values[field.name] ?? ''}
              error={errors[field.name]}
              onChange={(value) => setValues((previous) => ({ ...previous, [field.name]: value }))}
            />
          ))}
        </div>
        <div className="editor-actions">
          <Button type="submit" variant="primary" disabled={running}>
            Run {tool.name}
          </Button>
          {running && <Spinner label={`Running ${tool.name}`} visibleLabel />}
        </div>
      </form>
      {outcome && <Outcome outcome={outcome} />}
    </div>
  )
}

function SchemaField({
  field,
  value,
  error,
  onChange,
}: {
  field: FormField
  value: string
  error: string | undefined
  onChange: (value: string) => void
}) {
  const id = useId()
  const common = { id, value, 'aria-invalid': error ? true : undefined, 'aria-describedby': `${id}-help` }
  let control: ReactNode
  switch (field.kind) {
    case 'multiline':
    case 'json':
      control = (
        <textarea
          {...common}
          className="mono"
          rows={field.kind === 'json' ? 4 : 5}
          spellCheck={false}
          onChange={(event) => onChange(event.target.value)}
        />
      )
      break
    case 'boolean':
    case 'choice':
      control = (
        <select {...common} onChange={(event) => onChange(event.target.value)}>
          <option value="">{field.required ? 'Choose…' : 'Default'}</option>
          {(field.kind === 'boolean' ? ['true', 'false'] : field.options).map((option) => (
            <option key={option}>{option}</option>
          ))}
        </select>
      )
      break
    default:
      control = (
        <input
          {...common}
          className={field.kind === 'text' ? 'mono' : undefined}
          type={field.kind === 'text' ? 'text' : 'number'}
          spellCheck={false}
          {...(field.minimum !== undefined ? { min: field.minimum } : {})}
          {...(field.maximum !== undefined ? { max: field.maximum } : {})}
          onChange={(event) => onChange(event.target.value)}
        />
      )
  }
  return (
    <div
      className={`field${WIDE.has(field.kind) ? ' field-wide' : ''}`}
      data-invalid={error ? true : undefined}
    >
      <label htmlFor={id}>
        <code>{field.name}</code>
        {field.required && <span className="required"> required</span>}
      </label>
      {control}
      <p id={`${id}-help`} className={error ? 'field-error' : 'field-hint'}>
        {error ?? field.description}
      </p>
    </div>
  )
}

/** A tool's answer: its long text fields as blocks, the rest as facts. */
function Outcome({ outcome }: { outcome: Outcome }) {
  // Below a long form: brought into view when it arrives.
  const ref = useRef<HTMLElement>(null)
  useEffect(() => {
    // Braces: scrollIntoView may answer a promise, which React would take for a cleanup.
    ref.current?.scrollIntoView({ block: 'nearest' })
  }, [])
  if ('error' in outcome)
    return (
      <section ref={ref} className="card tool-result" aria-label="Result" role="alert">
        <h2 className="form-error">The tool failed</h2>
        <p>{outcome.error}</p>
      </section>
    )
  const entries = Object.entries(outcome.result)
  const long = entries.filter(([, value]) => isLong(value))
  const short = entries.filter(([, value]) => !isLong(value))
  return (
    <section ref={ref} className="card tool-result" aria-label="Result">
      <h2>Result</h2>
      <dl className="facts">
        {short.map(([name, value]) => (
          <div key={name}>
            <dt>{name}</dt>
            <dd className="mono">{typeof value === 'string' ? value : JSON.stringify(value)}</dd>
          </div>
        ))}
      </dl>
      {long.map(([name, value]) => (
        <div key={name}>
          <h3>{name}</h3>
          <pre className="code-block">
            {typeof value === 'string' ? value : (value as unknown[]).map(String).join('\n')}
          </pre>
        </div>
      ))}
    </section>
  )
}

const isLong = (value: unknown) =>
  (typeof value === 'string' && (value.includes('\n') || value.length > 80)) ||
  (Array.isArray(value) && value.every((item) => typeof item === 'string') && value.length > 0)
