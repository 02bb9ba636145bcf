/**
 * The users (admins; viewers read): who may sign in, with what role, their quotas and what they used of
 * them today and this month. Declared ones (`users.list`) are read-only here; admins create the others and
 * open any to manage their keys (user-view.tsx).
 */
import { useCallback, useMemo, useState } from 'react'
import { api } from '../../api/client.js'
import { useCanChange } from '../../api/me.js'
import type { UsageReport, User } from '../../api/types/users.js'
import { Link, navigate } from '../../router.js'
import { Badge } from '../../ui/badge.js'
import { Button } from '../../ui/button.js'
import { EmptyState } from '../../ui/empty-state.js'
import { ErrorState } from '../../ui/error-state.js'
import { SearchBox, TableHead, useLoad } from '../../ui/list-view.js'
import { RoleBadge } from '../../ui/role-badge.js'
import { Spinner } from '../../ui/spinner.js'
import { CreateUserDialog } from './create-user-dialog.js'
import { formatAmount, limitOf, QUOTAS, quotaSummary, searchUsers } from './model.js'
import { UsageBar } from './usage-panel.js'
import './users.css'

const COLUMNS: [string, string?][] = [['User'], ['Role'], ['Source'], ['Quotas'], ['Today'], ['This month']]

export default function UsersView() {
  const editable = useCanChange()
  const [users, setUsers] = useState<User[]>()
  const [usage, setUsage] = useState<ReadonlyMap<string, UsageReport>>(new Map())
  const [error, setError] = useState<unknown>()
  const [search, setSearch] = useState('')
  const [creating, setCreating] = useState(false)

  const load = useCallback(async () => {
    try {
      const { items } = await api.get<{ items: User[] }>('/users')
      setUsers(items)
      setError(undefined)
      // Each user's figures; one that fails leaves its cells empty, not the list.
      const reports = await Promise.all(
        items.map((user) =>
          api
            .get<UsageReport>(`/users/${encodeURIComponent(user.name)}/usage`)
            .then((report) => [user.name, report] as const)
            .catch(() => undefined),
        ),
      )
      setUsage(new Map(reports.filter((each) => each !== undefined)))
    } catch (failure) {
      setError(failure)
    }
  }, [])
  useLoad(load)

  const rows = useMemo(() => searchUsers(users ?? [], search), [users, search])

  return (
    <section className="view users-view" aria-labelledby="users-title">
      <div className="view-header">
        <h1 id="users-title">Users</h1>
        {users && <span className="muted">{users.length === 1 ? '1 user' : `${users.length} users`}</span>}
        {editable && (
          <span className="view-header-end">
            <Button variant="primary" onClick={() => setCreating(true)}>
              New user…
            </Button>
          </span>
        )}
      </div>
      <div className="toolbar">
        <SearchBox label="Search users" placeholder="Search name, role" value={search} onChange={setSearch} />
      </div>
      {error !== undefined ? (
        <ErrorState error={error} what="The users" onRetry={() => void load()} />
      ) : users === undefined ? (
        <Spinner label="Loading users" visibleLabel />
      ) : rows.length === 0 ? (
        search ? (
          <EmptyState
            title="No user matches"
            action={<Button onClick={() => setSearch('')}>Clear the search</Button>}
          />
        ) : (
          <EmptyState title="No users yet">
            <p>
              Without users, the gateway's keys (<code>server.apiKeys</code>) all act as its operator. Declare
              users in <code>users.list</code>, or create them here: each gets keys of their own, their own
              sessions and workspaces, and quotas.
            </p>
          </EmptyState>
        )
      ) : (
        <div className="table">
          <TableHead columns={COLUMNS} grid="users-grid" />
          <ul className="table-body plain-list" aria-label="Users">
            {rows.map((user) => (
              <UserRow key={user.name} user={user} usage={usage.get(user.name)} />
            ))}
          </ul>
        </div>
      )}
      <CreateUserDialog
        open={creating}
        onClose={() => setCreating(false)}
        onCreated={(user) => {
          setCreating(false)
          navigate(`/users/${encodeURIComponent(user.name)}`)
        }}
      />
    </section>
  )
}

function UserRow({ user, usage }: { user: User; usage: UsageReport | undefined }) {
  const quotas = quotaSummary(user.quotas)
  return (
    <li className="users-grid users-row list-row" data-user={user.name}>
      <span className="cell-title">
        <Link to={`/users/${encodeURIComponent(user.name)}`} className="truncate user-name">
          {user.name}
        </Link>
        <span className="muted truncate">{user.workspace_roots?.join(', ') ?? 'own workspace'}</span>
      </span>
      <span>
        <RoleBadge role={user.role} />
      </span>
      <span>
        {user.source === 'config' ? (
          <span title="Declared in the configuration (users.list): change it there">
            <Badge>config · read-only</Badge>
          </span>
        ) : (
          <Badge tone="accent">store</Badge>
        )}
      </span>
      <span className="quota-lines" title={quotas.join('\n')}>
        {quotas.length === 0 ? (
          <span className="muted">defaults</span>
        ) : (
          quotas.map((line) => (
            <span key={line} className="truncate">
              {line}
            </span>
          ))
        )}
      </span>
      <UsageCell usage={usage} period="day" />
      <UsageCell usage={usage} period="month" />
    </li>
  )
}

/** Tokens and cost of a day or a month, each against its limit when there is one. */
function UsageCell({ usage, period }: { usage: UsageReport | undefined; period: 'day' | 'month' }) {
  if (!usage) return <span className="muted">—</span>
  const quotas = QUOTAS.filter((quota) => quota.resets === period)
  return (
    <span className="usage-cell">
      {quotas.map((quota) => {
        const used = usage.used[quota.used] ?? 0
        const limit = limitOf(usage.quotas, quota)
        return (
          <span key={quota.name} className="usage-cell-line" data-usage={quota.name}>
            <span className="num">
              {formatAmount(used, quota.kind)}
              {limit !== null && <span className="muted"> / {formatAmount(limit, quota.kind)}</span>}
              {quota.kind === 'tokens' && limit === null && <span className="muted"> tokens</span>}
            </span>
            {limit !== null && <UsageBar share={Math.min(1, used / limit)} label={`${quota.label} used`} />}
          </span>
        )
      })}
    </span>
  )
}
