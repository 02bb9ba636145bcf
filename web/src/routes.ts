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
]

/** Where /admin/ itself leads. */
export const HOME = '/sessions'
