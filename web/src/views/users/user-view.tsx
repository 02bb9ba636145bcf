/**
 * One user (`/users/:name`): what they may do (role, workspaces, tools, Claude account and MCP servers by
 * which names are set, never their values), their usage against their quotas, and their API keys. Admins
 * manage the keys and delete users the store keeps; a user opens their own page from their account.
 */
import { useState } from 'react'
import { api } from '../../api/client.js'
import { useMe } from '../../api/me.js'
import type { User } from '../../api/types/users.js'
import { Link, navigate } from '../../router.js'
import { Badge } from '../../ui/badge.js'
import { Button } from '../../ui/button.js'
import { Dialog, DialogActions } from '../../ui/dialog.js'
import { ErrorState } from '../../ui/error-state.js'
import { Fact } from '../../ui/fact.js'
import { FormError } from '../../ui/form-error.js'
import { useFetched } from '../../ui/list-view.js'
import { RelativeTime } from '../../ui/relative-time.js'
import { RoleBadge } from '../../ui/role-badge.js'
import { Spinner } from '../../ui/spinner.js'
import { useAction } from '../session/actions/action.js'
import { KeysPanel } from './keys-panel.js'
import { UsagePanel } from './usage-panel.js'
import './users.css'

export default function UserView({ params }: { params: Record<string, string> }) {
  const name = params.name!
  const me = useMe()
  const [deleting, setDeleting] = useState(false)
  const path = `/users/${encodeURIComponent(name)}`
  const { value: user, error, load } = useFetched<User>(path)

  const admin = me?.role === 'admin'
  const own = me?.user === name
  const back =
    own && !admin ? { to: '/account', label: '← Your account' } : { to: '/users', label: '← Users' }

  return (
    <section className="view user-view" aria-labelledby="user-title">
      <div className="view-header">
        <Link to={back.to} className="back-link">
          {back.label}
        </Link>
        <h1 id="user-title">{name}</h1>
        {user && <RoleBadge role={user.role} />}
        {user?.source === 'config' && <Badge>config · read-only</Badge>}
        {admin && user?.source === 'store' && (
          <span className="view-header-end">
            <Button variant="danger" onClick={() => setDeleting(true)}>
              Delete user…
            </Button>
          </span>
        )}
      </div>
      {error !== undefined ? (
        <ErrorState error={error} what="This user" onRetry={() => void load()} />
      ) : !user ? (
        <Spinner label="Loading the user" visibleLabel />
      ) : (
        <div className="user-sections">
          <section className="card" aria-label="Access">
            <h2>Access</h2>
            {user.source === 'config' && (
              <p className="muted">
                Declared in the configuration (users.list): change it there; it reloads.
              </p>
            )}
            <UserFacts user={user} />
          </section>
          <UsagePanel path={`${path}/usage`} />
          <KeysPanel
            name={name}
            editable={admin || (own && me?.role === 'user')}
            declared={user.source === 'config'}
          />
        </div>
      )}
      <DeleteUserDialog name={name} open={deleting} onClose={() => setDeleting(false)} />
    </section>
  )
}

/** What a user may do and with what, in facts; secrets only as the names that are set. */
export function UserFacts({ user }: { user: User }) {
  const env = user.claude?.env ?? []
  return (
    <dl className="facts">
      <Fact name="Workspaces">
        {user.workspace_roots?.length ? (
          user.workspace_roots.map((root) => (
            <div key={root} className="mono">
              {root}
            </div>
          ))
        ) : (
          <span className="muted">a folder of their own (users.workspacesDir)</span>
        )}
      </Fact>
      <Fact name="Tools">{list(user.allowed_tools, 'any')}</Fact>
      <Fact name="Permission modes">{list(user.permission_modes, 'the defaults of their role')}</Fact>
      <Fact name="MCP servers">{list(user.mcp_servers, 'none')}</Fact>
      <Fact name="Claude account">
        {user.claude?.config_dir || env.length > 0 ? (
          <>
            {user.claude?.config_dir && 'own config folder'}
            {user.claude?.config_dir && env.length > 0 && ' · '}
            {env.length > 0 && <span className="mono">{env.join(', ')}</span>}
          </>
        ) : (
          <span className="muted">the gateway's</span>
        )}
      </Fact>
      {user.created_at ? (
        <Fact name="Created">
          <RelativeTime time={user.created_at} />
        </Fact>
      ) : null}
    </dl>
  )
}

const list = (items: readonly string[] | null | undefined, none: string) =>
  items?.length ? items.join(', ') : <span className="muted">{none}</span>

function DeleteUserDialog({ name, open, onClose }: { name: string; open: boolean; onClose: () => void }) {
  const remove = useAction(async () => {
    await api.delete(`/users/${encodeURIComponent(name)}`)
    onClose()
    navigate('/users')
    return true
  })
  return (
    <Dialog open={open} onClose={onClose} title={`Delete ${name}?`}>
      <p className="muted">
        Their keys stop working at once and their open streams end. Their sessions and the audit trail stay.
      </p>
      <FormError>{remove.error}</FormError>
      <DialogActions onCancel={onClose}>
        <Button variant="danger" disabled={remove.pending} onClick={() => void remove.run()}>
          Delete user
        </Button>
      </DialogActions>
    </Dialog>
  )
}
