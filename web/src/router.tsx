/**
 * A small router on the History API: the app lives under /admin, views are matched by path patterns
 * (`/sessions/:id`) from routes.ts. Links are real <a href> (open in a new tab, copy the address) whose
 * plain clicks navigate without a reload.
 */
import { type AnchorHTMLAttributes, type MouseEvent, useSyncExternalStore } from 'react'

export const BASE = '/admin'

const listeners = new Set<() => void>()
const notify = () => {
  for (const listener of listeners) listener()
}
window.addEventListener('popstate', notify)

function subscribe(listener: () => void): () => void {
  listeners.add(listener)
  return () => listeners.delete(listener)
}

const snapshot = () => window.location.pathname + window.location.search

/** `to` is an app path (`/sessions/abc?x=1`), without the /admin base. */
export function navigate(to: string, { replace = false } = {}): void {
  const url = BASE + to
  if (url === snapshot()) return
  if (replace) window.history.replaceState(null, '', url)
  else window.history.pushState(null, '', url)
  notify()
}

export interface Location {
  /** The app path without the base: `/sessions/abc`. */
  path: string
  query: URLSearchParams
}

export function useLocation(): Location {
  const current = useSyncExternalStore(subscribe, snapshot)
  const url = new URL(current, window.location.origin)
  const path = url.pathname.startsWith(BASE) ? url.pathname.slice(BASE.length) : url.pathname
  return { path: path.replace(/\/+$/, '') || '/', query: url.searchParams }
}

/** Path parameters of `pattern` (`/sessions/:id`) in `path`, or undefined when it does not match. */
export function matchPath(pattern: string, path: string): Record<string, string> | undefined {
  const want = pattern.split('/')
  const have = path.split('/')
  if (want.length !== have.length) return undefined
  const params: Record<string, string> = {}
  for (const [index, part] of want.entries()) {
    const value = have[index]!
    if (part.startsWith(':')) params[part.slice(1)] = decodeURIComponent(value)
    else if (part !== value) return undefined
  }
  return params
}

export interface LinkProps extends Omit<AnchorHTMLAttributes<HTMLAnchorElement>, 'href'> {
  to: string
}

export function Link({ to, onClick, ...props }: LinkProps) {
  const follow = (event: MouseEvent<HTMLAnchorElement>) => {
    onClick?.(event)
    // Modified clicks (new tab, new window, download) are the browser's.
    if (
      event.defaultPrevented ||
      event.button !== 0 ||
      event.metaKey ||
      event.ctrlKey ||
      event.shiftKey ||
      event.altKey
    )
      return
    event.preventDefault()
    navigate(to)
  }
  return <a href={BASE + to} onClick={follow} {...props} />
}
