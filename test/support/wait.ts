import type { GatewayEvent } from '../../src/events/types.js'

type Pending = undefined | false

/** Resolve once `check` returns (or resolves to) a value other than undefined/false, polling every few ms. */
export async function waitUntil<T>(
  check: () => T | Pending | Promise<T | Pending>,
  timeoutMs = 20_000,
  what = 'condition',
): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await check()
    if (value !== undefined && value !== false) return value
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

export function waitForEvent(
  events: GatewayEvent[],
  predicate: (event: GatewayEvent) => boolean,
  timeoutMs?: number,
): Promise<GatewayEvent> {
  return waitUntil(() => events.find(predicate), timeoutMs, 'event')
}

/** True when no process with this pid exists any more. */
export function isGone(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return false
  } catch {
    return true
  }
}
