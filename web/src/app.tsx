/**
 * The shell every view renders in: the sidebar (views of routes.ts, the staff's only for admins and
 * viewers), the header (connection to the gateway, who is signed in, key prompt, theme toggle) and the
 * current route's view.
 */
import { Suspense, useEffect, useSyncExternalStore } from 'react'
import { credentials } from './api/credentials.js'
import { isStaff, useMe } from './api/me.js'
import { KeyPrompt } from './key-prompt.js'
import { live, useConnectionStatus } from './live/live.js'
import type { ConnectionStatus } from './live/stream.js'
import { Link, matchPath, navigate, useLocation } from './router.js'
import { HOME, ROUTES } from './routes.js'
import { useShortcuts } from './shortcuts.js'
import { toggleTheme, useTheme } from './theme.js'
import { type Tone, toneStyle } from './ui/badge.js'
import { Button } from './ui/button.js'
import { EmptyState } from './ui/empty-state.js'
import { RoleBadge } from './ui/role-badge.js'
import { Spinner } from './ui/spinner.js'

export function App() {
  const { path } = useLocation()
  const staff = isStaff(useMe())
  useShortcuts()
  useEffect(() => {
    live.start()
    return () => live.stop()
  }, [])
  useEffect(() => {
    if (path === '/') navigate(HOME, { replace: true })
  }, [path])

  const match = ROUTES.map((route) => ({ route, params: matchPath(route.path, path) })).find(
    (each) => each.params,
  )
  const View = match?.route.view

  return (
    <div className="shell">
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <nav className="sidebar" aria-label="Views">
        <div className="brand">
          <span className="brand-mark" aria-hidden="true" />
          Claude Code Gateway
        </div>
        <ul>
          {ROUTES.filter((route) => route.nav && (staff || !route.staff)).map((route) => (
            <li key={route.path}>
              <Link
                to={route.path}
                aria-current={path === route.path || path.startsWith(`${route.path}/`) ? 'page' : undefined}
                title={`g ${route.nav!.key}`}
              >
                {route.nav!.label}
              </Link>
            </li>
          ))}
        </ul>
      </nav>
      <header className="header">
        <Connection />
        <div className="header-actions">
          <SignedIn />
          <KeyPrompt />
          <ThemeToggle />
        </div>
      </header>
      <main id="main" className="main" tabIndex={-1}>
        <Suspense fallback={<Spinner visibleLabel />}>
          {View ? (
            <View params={match.params!} />
          ) : (
            <EmptyState title="Nothing here" action={<Link to={HOME}>Go to the sessions</Link>}>
              <p>
                <code>/admin{path}</code> is not a page of this UI. It may belong to a newer version of the
                gateway.
              </p>
            </EmptyState>
          )}
        </Suspense>
      </main>
    </div>
  )
}

const STATUS_TEXT: Record<ConnectionStatus, string> = {
  connecting: 'Connecting…',
  open: 'Live',
  reconnecting: 'Reconnecting…',
  unauthorized: 'Key needed',
  stopped: 'Offline',
}

const STATUS_TONES: Record<ConnectionStatus, Tone> = {
  connecting: 'warning',
  open: 'success',
  reconnecting: 'warning',
  unauthorized: 'danger',
  stopped: 'neutral',
}

function Connection() {
  const status = useConnectionStatus()
  return (
    <div className="connection" data-status={status} role="status" aria-live="polite">
      <span className="dot" style={toneStyle(STATUS_TONES[status])} aria-hidden="true" />
      {STATUS_TEXT[status]}
      {status === 'reconnecting' && (
        <Button variant="ghost" onClick={() => live.reconnect()}>
          Retry now
        </Button>
      )}
    </div>
  )
}

/** Who the tab's key belongs to, their role, and signing out (only with a key: without, there is no one to sign out). */
function SignedIn() {
  const me = useMe()
  const { key } = useSyncExternalStore(credentials.subscribe, credentials.get)
  if (!me) return null
  return (
    <div className="signed-in" data-signed-in={me.user ?? 'operator'}>
      <Link to="/account" title="Your account and usage">
        {me.user ?? 'Operator'}
      </Link>
      <RoleBadge role={me.role} />
      {key !== null && (
        <Button variant="ghost" onClick={credentials.signOut}>
          Sign out
        </Button>
      )}
    </div>
  )
}

function ThemeToggle() {
  const theme = useTheme()
  const next = theme === 'dark' ? 'light' : 'dark'
  return (
    <Button
      variant="ghost"
      onClick={toggleTheme}
      aria-label={`Switch to the ${next} theme`}
      data-theme-toggle
    >
      {theme === 'dark' ? '☀ Light' : '☾ Dark'}
    </Button>
  )
}
