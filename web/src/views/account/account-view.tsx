/**
 * Your account (`/account`), for whoever is signed in: who the key belongs to and their role, your usage
 * against your quotas (`GET /api/me/usage`), and your API keys. The operator (a gateway without users, or
 * a key of `server.apiKeys`) has no quotas and no keys to manage here.
 */
import { useSyncExternalStore } from 'react'
import { credentials } from '../../api/credentials.js'
import { canChange, useMe } from '../../api/me.js'
import { Button } from '../../ui/button.js'
import { EmptyState } from '../../ui/empty-state.js'
import { RoleBadge } from '../../ui/role-badge.js'
import { Spinner } from '../../ui/spinner.js'
import { KeysPanel } from '../users/keys-panel.js'
import { quotaSummary } from '../users/model.js'
import { UsagePanel } from '../users/usage-panel.js'

const ROLE_TEXT = {
  admin: 'You see and steer every session, and manage users and their keys.',
  user: 'You see and steer your own sessions, in your own workspaces, within your quotas.',
  viewer: 'You see everything an admin sees, and change nothing.',
} as const

export default function AccountView() {
  const me = useMe()
  const { key, required } = useSyncExternalStore(credentials.subscribe, credentials.get)
  if (!me)
    return required ? (
      <EmptyState title="Signed out" action={<Button onClick={() => credentials.signOut()}>Sign in</Button>}>
        <p>Sign in with your API key to see your account.</p>
      </EmptyState>
    ) : (
      <Spinner label="Loading your account" visibleLabel />
    )
  const quotas = quotaSummary(me.quotas)
  return (
    <section className="view account-view" aria-labelledby="account-title">
      <div className="view-header">
        <h1 id="account-title">{me.user ?? 'Operator'}</h1>
        <RoleBadge role={me.role} />
      </div>
      <div className="user-sections">
        <section className="card" aria-label="Who you are">
          <h2>Who you are</h2>
          <p>{ROLE_TEXT[me.role]}</p>
          {me.user === null ? (
            <p className="muted">
              You are the gateway's operator:{' '}
              {key === null ? 'it has no keys' : 'your key is one of server.apiKeys'}, so there are no quotas
              and no keys to manage here.
            </p>
          ) : (
            <dl className="facts">
              <div>
                <dt>Workspaces</dt>
                <dd className="mono">
                  {me.workspace_roots?.length ? me.workspace_roots.join(', ') : 'your own folder'}
                </dd>
              </div>
              <div>
                <dt>Quotas</dt>
                <dd>{quotas.length ? quotas.join(' · ') : 'none'}</dd>
              </div>
            </dl>
          )}
        </section>
        {me.user !== null && (
          <>
            <UsagePanel path="/me/usage" title="Your usage" />
            <KeysPanel name={me.user} editable={canChange(me)} declared={me.source === 'config'} />
          </>
        )}
      </div>
    </section>
  )
}
