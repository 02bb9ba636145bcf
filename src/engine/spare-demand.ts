/**
 * Spare demand: how many warm spares the pool should keep, from when new conversations arrived lately.
 *
 * A spare that is taken is replaced by a process that takes a start-up (~0.7–1 s, priming included) to be
 * ready; new conversations that arrive meanwhile start cold. So the target is the largest number of new
 * conversations that arrived within one such start-up time during the recent window: that many spares cover
 * such a burst again before their replacements are up, with the floor on top for the conversation right
 * after it. A steady trickle keeps the floor (one at a time finds its replacement ready), a stream at λ/s
 * asks for about the busiest λ·start-up seen plus the floor, a burst of four asks for four plus the floor;
 * once the window has passed without bursts the target falls back to the floor and the
 * surplus spares go (the memory returns). Bounded by the caller (`pool.warmSpares` … `pool.maxSpares`).
 */

/** How far back arrivals count when `pool.spareDemandWindowMs` is not set. */
const DEFAULT_WINDOW_MS = 120_000
/** Before any spare has started: a primed start-up measured on a small machine (see docs/PERFORMANCE.md). */
const INITIAL_START_MS = 1_000
/** A start-up slower than this (a loaded machine, a stuck CLI) does not widen a burst beyond it. */
const MAX_START_MS = 10_000
/** Arrivals kept per profile: bounded whatever the rate (the target never exceeds the ceiling, which is small). */
const MAX_ARRIVALS = 4_096
/** Profiles whose arrivals are kept; the one heard of least recently goes first. */
const MAX_PROFILES = 64

/**
 * Arrivals are counted per start-up profile: spares serve only new conversations with their options, and
 * the pool keeps spares of one profile per account (the last each asked for, see spare-profiles.ts). A
 * different request now and then (a router's health check with its own options) switches its account's
 * spares to its profile, whose own demand is usually the floor: it does not start a burst's worth of spares
 * nobody will take, and switching back finds the main traffic's history intact.
 */
export class SpareDemand {
  /** When new conversations of each profile arrived, oldest first. */
  private readonly arrivals = new Map<string, number[]>()
  /** How long a spare takes to be ready: a moving average of measured start-ups. */
  private startMs = INITIAL_START_MS

  constructor(private windowMs = DEFAULT_WINDOW_MS) {}

  setWindow(windowMs = DEFAULT_WINDOW_MS): void {
    this.windowMs = windowMs
  }

  /** A new conversation with this profile asked for a process. */
  arrived(profile: string, now = Date.now()): void {
    const times = this.arrivals.get(profile) ?? []
    // Re-inserted: the map's first key is the profile heard of least recently.
    this.arrivals.delete(profile)
    this.arrivals.set(profile, times)
    times.push(now)
    if (times.length > MAX_ARRIVALS) times.shift()
    if (this.arrivals.size > MAX_PROFILES) this.arrivals.delete(this.arrivals.keys().next().value!)
  }

  /** A spare took this long to be ready. */
  started(ms: number): void {
    // Smoothed: one slow start (a loaded moment) should not double the target on its own.
    this.startMs = Math.min(MAX_START_MS, 0.7 * this.startMs + 0.3 * ms)
  }

  /**
   * The spares of `profile` wanted now: the most of its arrivals within one start-up time during the
   * window, within [floor, ceiling].
   */
  target(profile: string, floor: number, ceiling: number, now = Date.now()): number {
    const times = this.recent(profile, now)
    if (ceiling <= floor) return floor
    let busiest = 0
    let first = 0
    for (let last = 0; last < times.length && busiest < ceiling; last++) {
      while (times[last]! - times[first]! > this.startMs) first++
      busiest = Math.max(busiest, last - first + 1)
    }
    // A burst is covered with the floor on top: the conversation right after it finds a spare ready too,
    // instead of waiting for the burst's replacements, which start together and compete for the CPU.
    return Math.max(floor, Math.min(ceiling, busiest > 1 ? busiest + floor : busiest))
  }

  /** When the target of `profile` may fall next (its oldest arrival leaves the window); null: nothing counted. */
  nextChange(profile: string, now = Date.now()): number | null {
    const oldest = this.recent(profile, now)[0]
    return oldest === undefined ? null : oldest + this.windowMs - now
  }

  /** The profile's arrivals within the window (older ones forgotten). */
  private recent(profile: string, now: number): number[] {
    const times = this.arrivals.get(profile)
    if (!times) return []
    let stale = 0
    while (stale < times.length && times[stale]! <= now - this.windowMs) stale++
    if (stale > 0) times.splice(0, stale)
    if (times.length === 0) this.arrivals.delete(profile)
    return times
  }
}
