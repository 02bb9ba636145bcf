/**
 * Events reach React once per animation frame: a burst of text deltas becomes one render, not hundreds.
 * `schedule` is requestAnimationFrame in the page (and any timer in tests).
 */
export type Schedule = (run: () => void) => void

export function frameBatcher<T>(deliver: (items: T[]) => void, schedule: Schedule): (item: T) => void {
  let pending: T[] = []
  let scheduled = false
  const flush = () => {
    scheduled = false
    const items = pending
    pending = []
    deliver(items)
  }
  return (item) => {
    pending.push(item)
    if (!scheduled) {
      scheduled = true
      schedule(flush)
    }
  }
}
