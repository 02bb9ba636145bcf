/**
 * Creating (`/agents/new`) and editing (`/agents/{scope}/{name}`) an agent file, with the form or with the
 * raw file (two tabs over one draft, agent-file.ts turns one into the other), and deleting it. What the
 * gateway refuses is shown beside the field it names.
 */
import { useCallback, useEffect, useState } from 'react'
import { ApiError, api } from '../../api/client.js'
import { useCanChange } from '../../api/me.js'
import type { AgentConfig, AgentScope } from '../../api/types/agents.js'
import { Link, navigate, useLocation } from '../../router.js'
import { Badge } from '../../ui/badge.js'
import { Button } from '../../ui/button.js'
import { Dialog } from '../../ui/dialog.js'
import { ErrorState } from '../../ui/error-state.js'
import { FormError } from '../../ui/form-error.js'
import { Spinner } from '../../ui/spinner.js'
import {
  type AgentDraft,
  createBody,
  draftOf,
  EMPTY_DRAFT,
  errorField,
  type FieldErrors,
  fileOf,
  parseFile,
  patchOf,
} from './agent-file.js'
import { AgentForm, FORM_FIELDS, type NewAgentPlace } from './agent-form.js'
import './agents.css'

type Mode = 'form' | 'file'

export default function AgentEditor({ params }: { params: Record<string, string> }) {
  const { query } = useLocation()
  const workspace = query.get('workspace') ?? ''
  const { name, scope } = params as { name?: string; scope?: AgentScope }
  const editing = name !== undefined && scope !== undefined
  const list = `/agents${workspace ? `?workspace=${encodeURIComponent(workspace)}` : ''}`
  const agentQuery = { scope, workspace: scope === 'project' ? workspace : undefined }
  // A viewer reads the agent file; saving and deleting are not offered.
  const editable = useCanChange()

  const [config, setConfig] = useState<AgentConfig>()
  const [loadError, setLoadError] = useState<unknown>()
  const [draft, setDraft] = useState<AgentDraft>(EMPTY_DRAFT)
  const [mode, setMode] = useState<Mode>('form')
  const [text, setText] = useState('')
  // The form's inputs start again from the draft when it comes from the file (their own text state).
  const [formKey, setFormKey] = useState(0)
  const [place, setPlace] = useState<NewAgentPlace>({ scope: 'user', workspace })
  const [errors, setErrors] = useState<FieldErrors>({})
  const [busy, setBusy] = useState(false)
  const [saved, setSaved] = useState(false)
  const [deleting, setDeleting] = useState(false)

  const load = useCallback(async () => {
    if (!editing) return
    try {
      const answer = await api.get<AgentConfig>(`/agents/${encodeURIComponent(name)}/config`, {
        query: { scope, workspace: scope === 'project' ? workspace : undefined },
      })
      setConfig(answer)
      setDraft(draftOf(answer))
      setText(fileOf(draftOf(answer)))
      setLoadError(undefined)
    } catch (failure) {
      setLoadError(failure)
    }
  }, [editing, name, scope, workspace])
  useEffect(() => {
    void load()
  }, [load])

  const change = (next: AgentDraft) => {
    setDraft(next)
    setSaved(false)
  }

  /** The draft as the current tab has it; a file that does not parse is an error of the file. */
  const current = (): AgentDraft | undefined => {
    if (mode === 'form') return draft
    const parsed = parseFile(text)
    if (parsed.error !== undefined) setErrors({ file: parsed.error })
    return parsed.draft
  }

  const switchTo = (next: Mode) => {
    if (next === mode) return
    if (next === 'file') {
      setText(fileOf(draft))
    } else {
      const parsed = current()
      if (!parsed) return
      setDraft(parsed)
      setFormKey((key) => key + 1)
    }
    setErrors({})
    setMode(next)
  }

  const save = async () => {
    const edited = current()
    if (!edited) return
    const request = editing
      ? patchOf(draftOf(config!), edited)
      : createBody(edited, place.scope, place.workspace)
    if (request.errors) {
      setErrors(request.errors)
      revealErrors()
      return
    }
    setErrors({})
    setBusy(true)
    try {
      if (!editing) {
        await api.post<AgentConfig>('/agents', request.body)
        const folder = place.scope === 'project' ? place.workspace.trim() : workspace
        navigate(`/agents${folder ? `?workspace=${encodeURIComponent(folder)}` : ''}`)
        return
      }
      const answer =
        Object.keys(request.body).length === 0
          ? config!
          : await api.put<AgentConfig>(`/agents/${encodeURIComponent(name)}/config`, request.body, {
              query: agentQuery,
            })
      setConfig(answer)
      setDraft(draftOf(answer))
      if (mode === 'file') setText(fileOf(draftOf(answer)))
      setSaved(true)
    } catch (failure) {
      setErrors(failureErrors(failure))
      revealErrors()
    } finally {
      setBusy(false)
    }
  }

  const remove = async () => {
    setBusy(true)
    try {
      await api.delete(`/agents/${encodeURIComponent(name!)}`, { query: agentQuery })
      navigate(list)
    } catch (failure) {
      setDeleting(false)
      setErrors(failureErrors(failure))
    } finally {
      setBusy(false)
    }
  }

  if (editing && loadError !== undefined)
    return (
      <section className="view">
        <ErrorState error={loadError} what={`The agent ${name}`} onRetry={() => void load()} />
        <p className="state-box">
          <Link to={list}>Back to the agents</Link>
        </p>
      </section>
    )
  if (editing && !config) return <Spinner label="Loading the agent" visibleLabel />

  // Errors the current tab has no place for: listed above it, by field.
  const shown = mode === 'form' ? FORM_FIELDS : new Set<string>()
  const elsewhere = Object.entries(errors).filter(([field]) => !shown.has(field))

  return (
    <section className="view agent-editor" aria-labelledby="agent-title">
      <div className="view-header">
        <h1 id="agent-title">{editing ? name : 'New agent'}</h1>
        {config && <Badge tone="accent">{config.scope}</Badge>}
        {config && (
          <span className="muted mono truncate" title={config.path}>
            {config.path}
          </span>
        )}
        <span className="view-header-end">
          <Link to={list}>All agents</Link>
        </span>
      </div>
      {config?.error && <FormError>Claude Code does not load this file: {config.error}</FormError>}
      <div className="tabs" role="tablist" aria-label="Edit with">
        {(['form', 'file'] as const).map((tab) => (
          <button
            key={tab}
            type="button"
            role="tab"
            className="tab"
            aria-selected={mode === tab}
            onClick={() => switchTo(tab)}
          >
            {tab === 'form' ? 'Form' : 'File'}
          </button>
        ))}
      </div>
      <form
        className="editor-body"
        onSubmit={(event) => {
          event.preventDefault()
          void save()
        }}
      >
        {elsewhere.length > 0 && (
          <ul className="form-error error-list" role="alert">
            {elsewhere.map(([field, message]) => (
              <li key={field}>{field === 'form' || field === 'file' ? message : `${field}: ${message}`}</li>
            ))}
          </ul>
        )}
        {mode === 'form' ? (
          <AgentForm
            key={formKey}
            draft={draft}
            onChange={change}
            errors={errors}
            {...(editing ? {} : { place, onPlace: setPlace })}
          />
        ) : (
          <div className="field">
            <label htmlFor="agent-file">
              The agent file: front matter (<code>name</code>, <code>description</code>, <code>tools</code>,{' '}
              <code>model</code>…) between <code>---</code> lines, then the system prompt.
            </label>
            <textarea
              id="agent-file"
              className="mono agent-file"
              spellCheck={false}
              rows={22}
              value={text}
              onChange={(event) => {
                setText(event.target.value)
                setSaved(false)
              }}
            />
            {!editing && (
              <p className="field-hint">Saved in the {place.scope} scope (choose it in the Form tab).</p>
            )}
          </div>
        )}
        <div className="editor-actions">
          {editable && (
            <Button type="submit" variant="primary" disabled={busy}>
              {editing ? 'Save' : 'Create agent'}
            </Button>
          )}
          <Link className="btn btn-ghost" to={list}>
            Cancel
          </Link>
          {busy && <Spinner label="Saving" />}
          {saved && (
            <span className="saved" role="status">
              Saved
            </span>
          )}
          {editing && editable && (
            <Button variant="danger" className="push-end" onClick={() => setDeleting(true)}>
              Delete…
            </Button>
          )}
        </div>
      </form>
      <Dialog open={deleting} onClose={() => setDeleting(false)} title={`Delete ${name}?`}>
        <p>
          This deletes <code>{config?.path}</code>. Sessions running as this agent keep it until their process
          restarts.
        </p>
        <div className="dialog-actions">
          <Button onClick={() => setDeleting(false)}>Keep it</Button>
          <Button variant="danger" disabled={busy} onClick={() => void remove()}>
            Delete
          </Button>
        </div>
      </Dialog>
    </section>
  )
}

/** An API refusal, under the field it names. */
function failureErrors(failure: unknown): FieldErrors {
  if (failure instanceof ApiError) return { [errorField(failure.field)]: failure.message }
  return { form: failure instanceof Error ? failure.message : String(failure) }
}

/** After a refusal: focus the first field in error, or show the list of errors the tab has no field for. */
function revealErrors(): void {
  requestAnimationFrame(() => {
    const field = document.querySelector<HTMLElement>(
      '.agent-editor [data-invalid] :is(input, textarea, select)',
    )
    if (field) field.focus()
    else document.querySelector('.agent-editor .error-list')?.scrollIntoView({ block: 'nearest' })
  })
}
