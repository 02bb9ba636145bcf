/**
 * A session's tool permissions, edited (mode, allow and deny rules, whether calls wait for an answer), and
 * beside them the rules of Claude Code's settings files that apply too, read-only with where each comes
 * from. A change applies from the session's next turn.
 */
import { useCallback, useEffect, useId, useState } from 'react'
import { ApiError, api } from '../../api/client.js'
import { useCanChange } from '../../api/me.js'
import { PERMISSION_MODES, type PermissionMode, type ToolPermissions } from '../../api/types/permissions.js'
import { Badge } from '../../ui/badge.js'
import { Button } from '../../ui/button.js'
import { EmptyState } from '../../ui/empty-state.js'
import { ErrorState } from '../../ui/error-state.js'
import { FormError } from '../../ui/form-error.js'
import { Spinner } from '../../ui/spinner.js'
import {
  addRule,
  changed,
  fileRules,
  type RuleList,
  ruleOf,
  type SettingsFileView,
} from './permissions-model.js'
import { SessionPicker } from './session-picker.js'

const LISTS: { list: RuleList; label: string; hint: string }[] = [
  { list: 'allowed_tools', label: 'Allowed without asking', hint: 'Bash(npm test:*), Read(./src/**)' },
  { list: 'disallowed_tools', label: 'Always denied', hint: 'Bash(rm:*), WebFetch' },
]

interface Loaded {
  saved: ToolPermissions
  files: SettingsFileView[]
}

export function PermissionsPanel({ hidden, sessionId }: { hidden: boolean; sessionId: string | null }) {
  return (
    <div className="tab-panel permissions-panel" hidden={hidden}>
      <SessionPicker sessionId={sessionId} />
      {sessionId ? (
        <SessionPermissions key={sessionId} sessionId={sessionId} />
      ) : (
        <EmptyState title="Choose a session">
          <p>Permission rules are a session's: choose one above to see and change them.</p>
        </EmptyState>
      )}
    </div>
  )
}

function SessionPermissions({ sessionId }: { sessionId: string }) {
  const base = `/sessions/${encodeURIComponent(sessionId)}`
  const [loaded, setLoaded] = useState<Loaded>()
  const [edited, setEdited] = useState<ToolPermissions>()
  const [loadError, setLoadError] = useState<unknown>()
  const [error, setError] = useState<{ message: string; list?: RuleList; index?: number }>()
  const [busy, setBusy] = useState(false)
  const [saved, setSaved] = useState(false)
  // A viewer reads the rules; saving is not offered.
  const editable = useCanChange()

  const load = useCallback(async () => {
    try {
      const [permissions, command] = await Promise.all([
        api.get<ToolPermissions>(`${base}/tool-permissions`),
        // The gateway's /permissions command reads the settings files; without arguments it changes nothing.
        // It is a POST, which a viewer may not send: for them the rules show without the files.
        api
          .post<{ data: { settings_files: SettingsFileView[] } }>(`${base}/commands/permissions`, {})
          .catch((failure: unknown) => {
            if (failure instanceof ApiError && failure.code === 'forbidden')
              return { data: { settings_files: [] } }
            throw failure
          }),
      ])
      setLoaded({ saved: permissions, files: command.data.settings_files })
      setEdited(permissions)
      setLoadError(undefined)
    } catch (failure) {
      setLoadError(failure)
    }
  }, [base])
  useEffect(() => {
    void load()
  }, [load])

  if (loadError !== undefined)
    return <ErrorState error={loadError} what="The permissions" onRetry={() => void load()} />
  if (!loaded || !edited) return <Spinner label="Loading permissions" visibleLabel />

  const update = (change: Partial<ToolPermissions>) => {
    setEdited({ ...edited, ...change })
    setSaved(false)
    setError(undefined)
  }
  const save = async () => {
    setBusy(true)
    try {
      const now = await api.put<ToolPermissions>(`${base}/tool-permissions`, edited)
      setLoaded({ ...loaded, saved: now })
      setEdited(now)
      setSaved(true)
    } catch (failure) {
      const message = failure instanceof Error ? failure.message : String(failure)
      setError({ message, ...(failure instanceof ApiError ? ruleOf(failure.field) : {}) })
    } finally {
      setBusy(false)
    }
  }

  return (
    <div className="permissions-grid">
      <form
        className="card"
        aria-label="This session's permissions"
        onSubmit={(event) => {
          event.preventDefault()
          void save()
        }}
      >
        <h2>This session</h2>
        <div className="field">
          <label htmlFor="permission-mode">Permission mode</label>
          <select
            id="permission-mode"
            value={edited.permission_mode}
            onChange={(event) => update({ permission_mode: event.target.value as PermissionMode })}
          >
            {PERMISSION_MODES.map((mode) => (
              <option key={mode}>{mode}</option>
            ))}
          </select>
        </div>
        <label className="check">
          <input
            type="checkbox"
            checked={edited.ask_permissions}
            onChange={(event) => update({ ask_permissions: event.target.checked })}
          />
          Calls no rule decides wait for an answer (otherwise they are denied at once)
        </label>
        {LISTS.map(({ list, label, hint }) => (
          <Rules
            key={list}
            label={label}
            hint={hint}
            rules={edited[list]}
            onChange={(rules) => update({ [list]: rules })}
            invalid={error?.list === list ? error.index : undefined}
          />
        ))}
        {error && <FormError>{error.message}</FormError>}
        <div className="editor-actions">
          {editable && (
            <>
              <Button type="submit" variant="primary" disabled={busy || !changed(loaded.saved, edited)}>
                Save
              </Button>
              <Button variant="ghost" disabled={busy} onClick={() => update(loaded.saved)}>
                Undo changes
              </Button>
            </>
          )}
          {saved && (
            <span className="saved" role="status">
              Saved: applies from the next turn
            </span>
          )}
        </div>
      </form>
      <SettingsFiles files={loaded.files} />
    </div>
  )
}

function Rules({
  label,
  hint,
  rules,
  onChange,
  invalid,
}: {
  label: string
  hint: string
  rules: string[]
  onChange: (rules: string[]) => void
  /** The index of the rule the gateway refused. */
  invalid: number | undefined
}) {
  const id = useId()
  const [typed, setTyped] = useState('')
  const [problem, setProblem] = useState<string>()
  const add = () => {
    const next = addRule(rules, typed)
    setProblem(next.error)
    if (next.error) return
    onChange(next.rules)
    setTyped('')
  }
  return (
    <fieldset className="field rules">
      <legend>{label}</legend>
      {rules.length === 0 ? (
        <p className="muted">None.</p>
      ) : (
        <ul aria-label={label}>
          {rules.map((rule, index) => (
            <li key={rule} data-invalid={index === invalid ? true : undefined}>
              <code>{rule}</code>
              <Button
                variant="ghost"
                aria-label={`Remove ${rule}`}
                onClick={() => onChange(rules.filter((each) => each !== rule))}
              >
                ×
              </Button>
            </li>
          ))}
        </ul>
      )}
      <div className="toolbar">
        <input
          id={id}
          aria-label={`Add to: ${label}`}
          className="mono"
          placeholder={hint}
          value={typed}
          onChange={(event) => setTyped(event.target.value)}
          onKeyDown={(event) => {
            if (event.key !== 'Enter') return
            event.preventDefault()
            add()
          }}
        />
        <Button onClick={add}>Add</Button>
      </div>
      {problem && <p className="field-error">{problem}</p>}
    </fieldset>
  )
}

function SettingsFiles({ files }: { files: SettingsFileView[] }) {
  return (
    <section className="card" aria-labelledby="settings-files-title">
      <h2 id="settings-files-title">From Claude Code's settings files</h2>
      <p className="muted">
        Read-only here: they apply to every session Claude Code runs with these files (the scopes in
        <code> claude.settingSources</code>). Edit the files themselves to change them.
      </p>
      {files.map((file) => {
        const rules = fileRules(file.permissions)
        return (
          <div key={file.path} className="settings-file">
            <div className="settings-file-head">
              <Badge tone="accent">{file.scope}</Badge>
              {!file.loaded && <Badge tone="warning">not loaded</Badge>}
              <span className="mono truncate" title={file.path}>
                {file.path}
              </span>
            </div>
            {file.error ? (
              <p className="form-error">{file.error}</p>
            ) : rules ? (
              <dl className="facts">
                {rules.defaultMode && (
                  <div>
                    <dt>Default mode</dt>
                    <dd>{rules.defaultMode}</dd>
                  </div>
                )}
                {(['allow', 'deny', 'ask'] as const).map(
                  (kind) =>
                    rules[kind].length > 0 && (
                      <div key={kind}>
                        <dt>{kind}</dt>
                        <dd className="mono">{rules[kind].join(', ')}</dd>
                      </div>
                    ),
                )}
              </dl>
            ) : (
              <p className="muted">No permission rules (or no such file).</p>
            )}
          </div>
        )
      })}
    </section>
  )
}
