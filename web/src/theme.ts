/**
 * Light or dark: the system's choice (prefers-color-scheme) until the user picks one with the toggle,
 * which is then remembered in localStorage. The choice is `data-theme` on <html>; styles/tokens.css reads it.
 */
import { useSyncExternalStore } from 'react'

export type Theme = 'light' | 'dark'

const STORAGE_KEY = 'ccgw.theme'
const media = window.matchMedia('(prefers-color-scheme: dark)')
const listeners = new Set<() => void>()

function stored(): Theme | null {
  const value = localStorage.getItem(STORAGE_KEY)
  return value === 'light' || value === 'dark' ? value : null
}

export function currentTheme(): Theme {
  return stored() ?? (media.matches ? 'dark' : 'light')
}

function apply(): void {
  document.documentElement.dataset.theme = currentTheme()
  for (const listener of listeners) listener()
}

export function toggleTheme(): void {
  localStorage.setItem(STORAGE_KEY, currentTheme() === 'dark' ? 'light' : 'dark')
  apply()
}

media.addEventListener('change', apply)
apply()

export function useTheme(): Theme {
  return useSyncExternalStore((listener) => {
    listeners.add(listener)
    return () => listeners.delete(listener)
  }, currentTheme)
}
