/**
 * Two-key shortcuts: `g` then a route's key goes to that view (g s: sessions), `/` focuses the view's
 * search box (any element with `data-search`). Ignored while typing in a field.
 */
import { useEffect } from 'react'
import { isStaff, signedIn } from './api/me.js'
import { navigate } from './router.js'
import { ROUTES } from './routes.js'

const SEQUENCE_MS = 1500

export function useShortcuts(): void {
  useEffect(() => {
    let leader = 0
    const onKey = (event: KeyboardEvent) => {
      if (event.metaKey || event.ctrlKey || event.altKey || isTyping(event.target)) return
      if (event.key === '/') {
        const search = document.querySelector<HTMLInputElement>('[data-search]')
        if (search) {
          event.preventDefault()
          search.focus()
        }
        return
      }
      if (event.key === 'g') {
        leader = event.timeStamp
        return
      }
      if (leader && event.timeStamp - leader < SEQUENCE_MS) {
        const route = ROUTES.find(
          (each) => each.nav?.key === event.key && (!each.staff || isStaff(signedIn.get())),
        )
        if (route) navigate(route.path)
      }
      leader = 0
    }
    window.addEventListener('keydown', onKey)
    return () => window.removeEventListener('keydown', onKey)
  }, [])
}

function isTyping(target: EventTarget | null): boolean {
  if (!(target instanceof HTMLElement)) return false
  return target.isContentEditable || ['INPUT', 'TEXTAREA', 'SELECT'].includes(target.tagName)
}
