/**
 * A choice the page remembers across visits (localStorage), shared by every component showing it: the
 * diff layout picked in the changes view is the one the timeline's cards use too.
 */
import { useSyncExternalStore } from 'react'

export interface Preference<T extends string> {
  get(): T
  set(value: T): void
  use(): T
}

export function preference<T extends string>(key: string, values: readonly T[], fallback: T): Preference<T> {
  const listeners = new Set<() => void>()
  let memory: T | undefined
  const get = (): T => {
    // Storage can be refused (a locked-down browser): the choice then lasts as long as the page.
    let value: string | null = null
    try {
      value = localStorage.getItem(key)
    } catch {}
    return (values as readonly string[]).includes(value ?? '') ? (value as T) : (memory ?? fallback)
  }
  const subscribe = (listener: () => void) => {
    listeners.add(listener)
    return () => listeners.delete(listener)
  }
  return {
    get,
    set(value) {
      memory = value
      try {
        localStorage.setItem(key, value)
      } catch {}
      for (const listener of listeners) listener()
    },
    use: () => useSyncExternalStore(subscribe, get),
  }
}

export const diffMode = preference('ccgw.diffMode', ['unified', 'split'] as const, 'unified')
export const fileListLayout = preference('ccgw.changes.layout', ['tree', 'flat'] as const, 'tree')
