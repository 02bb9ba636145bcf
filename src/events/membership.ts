import type { Subscription } from './bus.js'

/** Adds `value` to the set of `key` (made when missing); closing removes it, and the set once empty. */
export function member<V>(sets: Map<string, Set<V>>, key: string, value: V): Subscription {
  let set = sets.get(key)
  if (!set) {
    set = new Set()
    sets.set(key, set)
  }
  set.add(value)
  return {
    close: () => {
      set.delete(value)
      if (set.size === 0 && sets.get(key) === set) sets.delete(key)
    },
  }
}
