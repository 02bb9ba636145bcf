/**
 * A user's API keys: listed with their state (never the key), a new one made and shown once, an active one
 * revoked after a confirmation (its open streams end at once on the gateway's side).
 */
import { type FormEvent, useState } from 'react'
import { ApiError, api } from '../../api/client.js'
import type { ApiKey, KeyState, NewKey } from '../../api/types/users.js'
import { Badge, type Tone } from '../../ui/badge.js'
import { Button } from '../../ui/button.js'
import { Dialog, DialogActions } from '../../ui/dialog.js'
import { InlineError } from '../../ui/error-state.js'
import { FormError } from '../../ui/form-error.js'
import { TableHead, useFetched } from '../../ui/list-view.js'
import { RelativeTime } from '../../ui/relative-time.js'
import { Spinner } from '../../ui/spinner.js'
import { useAction } from '../session/actions/action.js'
import { keyBody } from './model.js'
import './panels.css'

const STATE_TONES: Record<KeyState, Tone> = { active: 'success', revoked: 'danger', expired: 'neutral' }

const COLUMNS: [string, string?][] = [['Key'], ['State'], ['Created'], ['Expires'], ['Last used'], ['']]

export function KeysPanel({
  name,
  editable,
  declared = false,
}: {
  name: string
  editable: boolean
  /** Declared in the configuration: their keys there are not listed (they have no id to revoke). */
  declared?: boolean
}) {
  const base = `/users/${encodeURIComponent(name)}/keys`
  const { value: page, error, load } = useFetched<{ items: ApiKey[] }>(base)
  const keys = page?.items
  const [creating, setCreating] = useState(false)
  const [shown, setShown] = useState<NewKey>()
  const [revoking, setRevoking] = useState<ApiKey>()

  return (
    <section className="card keys-panel" aria-labelledby="keys-title">
      <div className="card-header">
        <h2 id="keys-title">API keys</h2>
        {editable && (
          <Button variant="primary" onClick={() => setCreating(true)}>
            New key…
          </Button>
        )}
      </div>
      {error !== undefined ? (
        <InlineError what="The keys" error={error} onRetry={() => void load()} />
      ) : keys === undefined ? (
        <Spinner label="Loading the keys" />
      ) : keys.length === 0 ? (
        <p className="muted">
          No key made here yet{declared ? ' (the keys the configuration declares are not listed)' : ''}
          {editable ? ': make one to sign in with.' : '.'}
        </p>
      ) : (
        <div className="keys-table">
          <TableHead columns={COLUMNS} grid="keys-grid" />
          <ul aria-label="API keys" className="plain-list">
            {keys.map((key) => (
              <li key={key.id} className="keys-grid keys-row" data-key-id={key.id} data-state={key.state}>
                <span className="cell-title">
                  <span className="mono truncate">{key.prefix}…</span>
                  <span className="muted truncate">{key.label ?? 'no label'}</span>
                </span>
                <span>
                  <Badge tone={STATE_TONES[key.state] ?? 'neutral'}>{key.state}</Badge>
                </span>
                <span>
                  <RelativeTime time={key.created_at} />
                </span>
                <span>
                  {key.expires_at === null ? (
                    <span className="muted">never</span>
                  ) : (
                    <When time={key.expires_at} />
                  )}
                </span>
                <span>
                  {key.last_used_at === null ? (
                    <span className="muted">never</span>
                  ) : (
                    <RelativeTime time={key.last_used_at} />
                  )}
                </span>
                <span className="row-actions">
                  {editable && key.state === 'active' && (
                    <Button variant="danger" onClick={() => setRevoking(key)}>
                      Revoke…
                    </Button>
                  )}
                </span>
              </li>
            ))}
          </ul>
        </div>
      )}
      <NewKeyDialog
        open={creating}
        path={base}
        onClose={() => setCreating(false)}
        onCreated={(key) => {
          setCreating(false)
          setShown(key)
          void load()
        }}
      />
      <KeyShownDialog created={shown} onClose={() => setShown(undefined)} />
      <RevokeDialog
        path={base}
        apiKey={revoking}
        onClose={() => setRevoking(undefined)}
        onRevoked={() => {
          setRevoking(undefined)
          void load()
        }}
      />
    </section>
  )
}

/** A time that may be ahead ("in 3 d" reads as a date): the date, exact on hover. */
function When({ time }: { time: string | number }) {
  const then = typeof time === 'number' ? time : Date.parse(time)
  if (then <= Date.now()) return <RelativeTime time={time} />
  return (
    <time dateTime={new Date(then).toISOString()} title={new Date(then).toLocaleString()}>
      {new Date(then).toISOString().slice(0, 10)}
    </time>
  )
}

function NewKeyDialog({
  open,
  path,
  onClose,
  onCreated,
}: {
  open: boolean
  path: string
  onClose: () => void
  onCreated: (key: NewKey) => void
}) {
  return (
    <Dialog open={open} onClose={onClose} title="New API key">
      {/* Mounted anew at each opening: the fields start empty. */}
      {open && <NewKeyForm path={path} onClose={onClose} onCreated={onCreated} />}
    </Dialog>
  )
}

function NewKeyForm({
  path,
  onClose,
  onCreated,
}: {
  path: string
  onClose: () => void
  onCreated: (key: NewKey) => void
}) {
  const [label, setLabel] = useState('')
  const [days, setDays] = useState('')
  const [invalid, setInvalid] = useState<string>()
  const create = useAction(async (body: Record<string, unknown>) => {
    onCreated(await api.post<NewKey>(path, body))
    return true
  })
  const submit = (event: FormEvent) => {
    event.preventDefault()
    const result = keyBody(label, days)
    setInvalid(result.errors?.expires_in_days)
    if (result.body) void create.run(result.body)
  }
  return (
    <form onSubmit={submit} noValidate>
      <div className="field">
        <label htmlFor="key-label">Label</label>
        <input
          id="key-label"
          maxLength={100}
          value={label}
          placeholder="laptop, ci…"
          onChange={(event) => setLabel(event.target.value)}
        />
      </div>
      <div className="field" data-invalid={invalid ? 'true' : undefined}>
        <label htmlFor="key-days">Expires after (days)</label>
        <input
          id="key-days"
          inputMode="numeric"
          value={days}
          placeholder="never"
          aria-invalid={invalid !== undefined}
          onChange={(event) => setDays(event.target.value)}
        />
        {invalid && <p className="field-error">{invalid}</p>}
      </div>
      <FormError>{create.error}</FormError>
      <DialogActions onCancel={onClose}>
        <Button type="submit" variant="primary" disabled={create.pending}>
          Create key
        </Button>
      </DialogActions>
    </form>
  )
}

/** The new key, this once: the gateway keeps only its hash. */
function KeyShownDialog({ created, onClose }: { created: NewKey | undefined; onClose: () => void }) {
  const [copied, setCopied] = useState<'yes' | 'no'>()
  const copy = async () => {
    if (!created) return
    try {
      await navigator.clipboard.writeText(created.key)
      setCopied('yes')
    } catch {
      // No clipboard (an insecure origin, a denied permission): the field is selected for a manual copy.
      document.querySelector<HTMLInputElement>('#new-key')?.select()
      setCopied('no')
    }
  }
  const close = () => {
    setCopied(undefined)
    onClose()
  }
  return (
    <Dialog open={created !== undefined} onClose={close} title="Copy the new key now">
      {created && (
        <div className="key-shown">
          <p className="key-warning" role="alert">
            This is the only time the key is shown: the gateway keeps only its hash. Copy it now and keep it
            somewhere safe; if it is lost, make a new one and revoke this one.
          </p>
          <div className="field">
            <label htmlFor="new-key">Key {created.label ? `“${created.label}”` : ''}</label>
            <div className="copy-line">
              <input
                id="new-key"
                className="mono"
                readOnly
                value={created.key}
                onFocus={(event) => event.target.select()}
              />
              <Button onClick={() => void copy()}>Copy</Button>
            </div>
            <p className="field-hint" role="status">
              {copied === 'yes'
                ? 'Copied to the clipboard.'
                : copied === 'no'
                  ? 'Select and copy it (Ctrl+C).'
                  : ''}
            </p>
          </div>
          <div className="dialog-actions">
            <Button variant="primary" onClick={close}>
              I have copied it
            </Button>
          </div>
        </div>
      )}
    </Dialog>
  )
}

function RevokeDialog({
  path,
  apiKey,
  onClose,
  onRevoked,
}: {
  path: string
  apiKey: ApiKey | undefined
  onClose: () => void
  onRevoked: () => void
}) {
  const revoke = useAction(async (id: string) => {
    try {
      await api.delete(`${path}/${encodeURIComponent(id)}`)
    } catch (failure) {
      // Revoked meanwhile (another tab, another admin): what was wanted is done.
      if (!(failure instanceof ApiError && failure.status === 404)) throw failure
    }
    onRevoked()
    return true
  })
  const label = apiKey ? `${apiKey.prefix}…${apiKey.label ? ` (${apiKey.label})` : ''}` : ''
  return (
    <Dialog
      open={apiKey !== undefined}
      onClose={() => {
        revoke.clear()
        onClose()
      }}
      title={`Revoke ${label}?`}
    >
      <p className="muted">
        Requests with this key are refused from now on, and its open streams end. This cannot be undone: a new
        key can be made instead.
      </p>
      <FormError>{revoke.error}</FormError>
      <DialogActions onCancel={onClose}>
        <Button
          variant="danger"
          disabled={revoke.pending || !apiKey}
          onClick={() => apiKey && void revoke.run(apiKey.id)}
        >
          Revoke key
        </Button>
      </DialogActions>
    </Dialog>
  )
}
