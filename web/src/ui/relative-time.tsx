import { useSyncExternalStore } from 'react'
import { formatRelative } from './format.js'

// One clock for every timestamp on the page, ticking each 30 s while any is shown.
let now = Date.now()
const listeners = new Set<() => void>()
let timer: ReturnType<typeof setInterval> | undefined

function subscribe(listener: () => void): () => void {
  listeners.add(listener)
  timer ??= setInterval(() => {
    now = Date.now()
    for (const each of listeners) each()
  }, 30_000)
  return () => {
    listeners.delete(listener)
    if (listeners.size === 0) {
      clearInterval(timer)
      timer = undefined
    }
  }
}

/** "5 min ago", with the exact time on hover and for assistive technology. */
export function RelativeTime({ time }: { time: string | number }) {
  const clock = useSyncExternalStore(subscribe, () => now)
  const then = typeof time === 'number' ? time : Date.parse(time)
  const iso = new Date(then).toISOString()
  return (
    <time dateTime={iso} title={new Date(then).toLocaleString()}>
      {formatRelative(then, clock)}
    </time>
  )
}
