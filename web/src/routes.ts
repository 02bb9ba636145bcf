/**
 * The app's views: one entry per route, each view a lazy chunk of its own folder under views/. To add a
 * view, add its entry here; `nav` puts it in the sidebar, `key` gives it the `g <key>` shortcut.
 */
import { type ComponentType, lazy } from 'react'

export interface Route {
  /** A path pattern under /admin: `/sessions/:id`. */
  path: string
  view: ComponentType<{ params: Record<string, string> }>
  /** The sidebar entry and its shortcut (`g` then this key). */
  nav?: { label: string; key: string }
  /** Only for admins and viewers (the gateway refuses the others): out of the sidebar for anyone else. */
  staff?: true
}

// One view for its tabs (/tools/permissions...): switching tabs keeps what the others loaded.
const toolsView = lazy(() => import('./views/tools/tools-view.js'))

export const ROUTES: Route[] = [
  {
    path: '/sessions',
    view: lazy(() => import('./views/sessions/sessions-view.js')),
    nav: { label: 'Sessions', key: 's' },
  },
  { path: '/sessions/:id', view: lazy(() => import('./views/session/session-view.js')) },
  { path: '/sessions/:id/changes', view: lazy(() => import('./views/changes/changes-view.js')) },
  {
    path: '/dashboard',
    view: lazy(() => import('./views/dashboard/dashboard-view.js')),
    nav: { label: 'Dashboard', key: 'd' },
    staff: true,
  },
  {
    path: '/agents',
    view: lazy(() => import('./views/agents/agents-view.js')),
    nav: { label: 'Agents', key: 'a' },
  },
  { path: '/agents/new', view: lazy(() => import('./views/agents/agent-editor.js')) },
  { path: '/agents/:scope/:name', view: lazy(() => import('./views/agents/agent-editor.js')) },
  { path: '/tools', view: toolsView, nav: { label: 'Tools', key: 't' } },
  { path: '/tools/:tab', view: toolsView },
  {
    path: '/users',
    view: lazy(() => import('./views/users/users-view.js')),
    nav: { label: 'Users', key: 'u' },
    staff: true,
  },
  { path: '/users/:name', view: lazy(() => import('./views/users/user-view.js')) },
  {
    path: '/audit',
    view: lazy(() => import('./views/audit/audit-view.js')),
    nav: { label: 'Audit', key: 'l' },
    staff: true,
  },
  {
    path: '/account',
    view: lazy(() => import('./views/account/account-view.js')),
    nav: { label: 'Your account', key: 'y' },
  },
]

/** Where /admin/ itself leads. */
export const HOME = '/sessions'
