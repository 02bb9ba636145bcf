/**
 * Tools: the tool calls of every session (/tools), a session's permission rules (/tools/permissions) and
 * the direct tools run from here (/tools/run). A tab is mounted when first opened and kept while the view
 * is: going back to one finds it as it was left.
 */
import { useState } from 'react'
import { useCanChange } from '../../api/me.js'
import { Link, useLocation } from '../../router.js'
import { EmptyState } from '../../ui/empty-state.js'
import { CallsPanel } from './calls-panel.js'
import { PermissionsPanel } from './permissions-panel.js'
import { RunPanel } from './run-panel.js'
import './tools.css'

const TABS = [
  { tab: 'calls', path: '/tools', label: 'Tool calls' },
  { tab: 'permissions', path: '/tools/permissions', label: 'Permissions' },
  { tab: 'run', path: '/tools/run', label: 'Run a tool' },
] as const
type Tab = (typeof TABS)[number]['tab']

export default function ToolsView({ params }: { params: Record<string, string> }) {
  const { query } = useLocation()
  // Running a tool changes things: not a viewer's tab.
  const editable = useCanChange()
  const tabs = editable ? TABS : TABS.filter((each) => each.tab !== 'run')
  const active = tabs.find((each) => each.tab === (params.tab ?? 'calls'))
  const [opened, setOpened] = useState<ReadonlySet<Tab>>(new Set())
  if (active && !opened.has(active.tab)) setOpened(new Set([...opened, active.tab]))
  // The chosen session goes with the tabs that act on one.
  const session = query.get('session')
  const suffix = session ? `?session=${encodeURIComponent(session)}` : ''

  return (
    <section className="view tools-view" aria-labelledby="tools-title">
      <div className="view-header">
        <h1 id="tools-title">Tools</h1>
      </div>
      <nav className="tabs" aria-label="Tools">
        {tabs.map((each) => (
          <Link
            key={each.tab}
            className="tab"
            to={`${each.path}${each.tab === 'calls' ? '' : suffix}`}
            aria-current={each.tab === active?.tab ? 'page' : undefined}
          >
            {each.label}
          </Link>
        ))}
      </nav>
      {!active && (
        <EmptyState title="No such tab" action={<Link to="/tools">Go to the tool calls</Link>}>
          <p>
            <code>/tools/{params.tab}</code> is not a tab of this view.
          </p>
        </EmptyState>
      )}
      {opened.has('calls') && <CallsPanel hidden={active?.tab !== 'calls'} />}
      {opened.has('permissions') && (
        <PermissionsPanel hidden={active?.tab !== 'permissions'} sessionId={session} />
      )}
      {opened.has('run') && <RunPanel hidden={active?.tab !== 'run'} sessionId={session} />}
    </section>
  )
}
