/**
 * A new user (`POST /api/users`): name, role, workspaces, allowed tools and quotas. Their Claude account and
 * MCP credentials are secrets and go through the API (docs/users.md), not a browser form. A refusal of the
 * gateway lands on the field it names.
 */
import { type FormEvent, useState } from 'react'
import { ApiError, api } from '../../api/client.js'
import { ROLES, type Role, type User } from '../../api/types/users.js'
import { Button } from '../../ui/button.js'
import { Dialog, DialogActions } from '../../ui/dialog.js'
import { Field } from '../../ui/field.js'
import { FormError } from '../../ui/form-error.js'
import { EMPTY_USER_FORM, fieldOf, QUOTAS, type UserForm, userBody } from './model.js'

export function CreateUserDialog({
  open,
  onClose,
  onCreated,
}: {
  open: boolean
  onClose: () => void
  onCreated: (user: User) => void
}) {
  return (
    <Dialog open={open} onClose={onClose} title="New user" wide>
      {open && <CreateUserForm onClose={onClose} onCreated={onCreated} />}
    </Dialog>
  )
}

function CreateUserForm({ onClose, onCreated }: { onClose: () => void; onCreated: (user: User) => void }) {
  const [form, setForm] = useState<UserForm>(EMPTY_USER_FORM)
  const [errors, setErrors] = useState<Record<string, string>>({})
  const [failure, setFailure] = useState<string>()
  const [pending, setPending] = useState(false)
  const update = (change: Partial<UserForm>) => setForm((previous) => ({ ...previous, ...change }))

  const submit = async (event: FormEvent) => {
    event.preventDefault()
    const result = userBody(form)
    setErrors(result.errors ?? {})
    setFailure(undefined)
    if (!result.body) return
    setPending(true)
    try {
      onCreated(await api.post<User>('/users', result.body))
    } catch (error) {
      const field = error instanceof ApiError ? fieldOf(error.field) : undefined
      const message = error instanceof Error ? error.message : String(error)
      if (field && field in FIELDS) setErrors({ [field]: message })
      else if (error instanceof ApiError && error.code === 'already_exists') setErrors({ name: message })
      else setFailure(message)
    } finally {
      setPending(false)
    }
  }

  return (
    <form onSubmit={(event) => void submit(event)} noValidate className="user-form">
      <div className="user-form-columns">
        <div>
          <Field
            id="user-name"
            label="Name"
            error={errors.name}
            hint="Owns their sessions; cannot change later."
          >
            <input
              id="user-name"
              value={form.name}
              autoComplete="off"
              aria-invalid={errors.name !== undefined}
              onChange={(event) => update({ name: event.target.value })}
            />
          </Field>
          <Field id="user-role" label="Role" error={errors.role}>
            <select
              id="user-role"
              value={form.role}
              onChange={(event) => update({ role: event.target.value as Role })}
            >
              {ROLES.map((role) => (
                <option key={role} value={role}>
                  {ROLE_TEXT[role]}
                </option>
              ))}
            </select>
          </Field>
          <Field
            id="user-workspace_roots"
            label="Workspace folders"
            error={errors.workspace_roots}
            hint="One absolute folder per line. Empty: a folder of their own under users.workspacesDir."
          >
            <textarea
              id="user-workspace_roots"
              rows={3}
              value={form.workspaceRoots}
              onChange={(event) => update({ workspaceRoots: event.target.value })}
            />
          </Field>
          <Field
            id="user-allowed_tools"
            label="Allowed tools"
            error={errors.allowed_tools}
            hint="Comma-separated (Read, Grep…). Empty: any."
          >
            <input
              id="user-allowed_tools"
              value={form.allowedTools}
              onChange={(event) => update({ allowedTools: event.target.value })}
            />
          </Field>
        </div>
        <fieldset className="quota-fields">
          <legend>Quotas</legend>
          <p className="field-hint">Empty: users.defaultQuotas, or no limit.</p>
          {QUOTAS.map((quota) => (
            <Field
              key={quota.name}
              id={`user-quotas.${quota.name}`}
              label={quota.label}
              error={errors[`quotas.${quota.name}`]}
            >
              <input
                id={`user-quotas.${quota.name}`}
                inputMode={quota.kind === 'usd' ? 'decimal' : 'numeric'}
                placeholder="no limit"
                value={form.quotas[quota.name] ?? ''}
                onChange={(event) => update({ quotas: { ...form.quotas, [quota.name]: event.target.value } })}
              />
            </Field>
          ))}
        </fieldset>
      </div>
      <FormError>{failure}</FormError>
      <DialogActions onCancel={onClose}>
        <Button type="submit" variant="primary" disabled={pending}>
          Create user
        </Button>
      </DialogActions>
    </form>
  )
}

const ROLE_TEXT: Record<Role, string> = {
  admin: 'admin: everything, everyone’s sessions, users and keys',
  user: 'user: their own sessions and workspaces',
  viewer: 'viewer: reads everything, changes nothing',
}

/** The fields a refusal can land on (their API names). */
const FIELDS: Record<string, true> = Object.fromEntries(
  ['name', 'role', 'workspace_roots', 'allowed_tools', ...QUOTAS.map((quota) => `quotas.${quota.name}`)].map(
    (name) => [name, true],
  ),
)
