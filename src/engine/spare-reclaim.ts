/**
 * Which serving process gives way to a missing spare when every slot is taken: the session idle the longest,
 * once it has been idle `pool.spareReclaimIdleMs`. Sessions that stopped talking (OpenAI clients rarely end
 * theirs) would otherwise hold every slot until their idle timeout, and every new conversation would start
 * cold. A session some request waits on (a turn running or queued, a warm-up under way) refuses (`evict`
 * says no) and the next one is asked: no eviction ever happens under a request. The short wait protects a
 * session whose client is about to send its next message (an agent's loop comes back within a second or two).
 */
import type { Runner } from './runner.js'

/** The runner its session let go, or how long until the longest idle one may be asked; null: none can. */
export type Reclaim = { runner: Runner } | { waitMs: number } | null

/** Ask the idle runners, longest idle first, whether one gives its process up now. */
export function reclaimOne(
  idle: readonly Runner[],
  idleMs: number,
  evict: (runner: Runner) => boolean,
  now = Date.now(),
): Reclaim {
  for (const runner of [...idle].sort((a, b) => a.idleSince - b.idleSince)) {
    const waitMs = runner.idleSince + idleMs - now
    if (waitMs > 0) return { waitMs }
    if (evict(runner)) return { runner }
  }
  return null
}
