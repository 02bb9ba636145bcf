/**
 * Recent observations for the admin dashboard, over a sliding window, in memory that does not grow with
 * traffic. Durations (SampleWindow): the raw samples in a ring of fixed size, so percentiles are exact (no
 * bucket interpolation); when more arrive within the window than the ring holds, the figures cover the most
 * recent `capacity` of them. Occurrences (CountWindow): counted per second, exact at any rate.
 */

export interface Percentiles {
  p50: number | null
  p95: number | null
  p99: number | null
}

export class SampleWindow {
  private readonly times: Float64Array
  private readonly values: Float64Array
  /** Where the next sample goes. */
  private next = 0
  private size = 0

  constructor(
    readonly capacity: number,
    readonly windowMs: number,
  ) {
    this.times = new Float64Array(capacity)
    this.values = new Float64Array(capacity)
  }

  add(value: number, now = Date.now()): void {
    this.times[this.next] = now
    this.values[this.next] = value
    this.next = (this.next + 1) % this.capacity
    if (this.size < this.capacity) this.size++
  }

  /** The values observed in the window ending at `now`, oldest first. */
  recent(now = Date.now()): number[] {
    const since = now - this.windowMs
    const out: number[] = []
    const start = (this.next - this.size + this.capacity) % this.capacity
    for (let i = 0; i < this.size; i++) {
      const at = (start + i) % this.capacity
      if (this.times[at]! > since && this.times[at]! <= now) out.push(this.values[at]!)
    }
    return out
  }

  count(now = Date.now()): number {
    return this.recent(now).length
  }

  /** p50/p95/p99 of the window's values (nearest rank); null when the window is empty. */
  percentiles(now = Date.now()): Percentiles {
    const sorted = Float64Array.from(this.recent(now)).sort()
    return { p50: rank(sorted, 0.5), p95: rank(sorted, 0.95), p99: rank(sorted, 0.99) }
  }
}

/** The nearest-rank percentile: the smallest value with at least `q` of the values at or below it. */
export function rank(sorted: Float64Array, q: number): number | null {
  if (sorted.length === 0) return null
  return sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)]!
}

/**
 * Occurrences by kind within the window (requests, errors by code), counted per second: exact at any rate,
 * in memory that does not grow with it. The window is its last whole seconds, the current one included.
 * Kinds are few and bounded by the caller.
 */
export class CountWindow {
  /** Which second (since the epoch) each bucket counts; -Infinity: none yet. */
  private readonly seconds: Float64Array
  private readonly buckets: Map<string, number>[]

  constructor(readonly windowMs: number) {
    const size = Math.max(1, Math.ceil(windowMs / 1000))
    this.seconds = new Float64Array(size).fill(-Infinity)
    this.buckets = Array.from({ length: size }, () => new Map<string, number>())
  }

  add(kind: string, now = Date.now()): void {
    const second = Math.floor(now / 1000)
    const at = second % this.seconds.length
    if (this.seconds[at] !== second) {
      this.seconds[at] = second
      this.buckets[at]!.clear()
    }
    const bucket = this.buckets[at]!
    bucket.set(kind, (bucket.get(kind) ?? 0) + 1)
  }

  /** Kinds seen in the window with their counts; kinds not seen in it are left out. */
  counts(now = Date.now()): Record<string, number> {
    const current = Math.floor(now / 1000)
    const out: Record<string, number> = {}
    for (let at = 0; at < this.seconds.length; at++) {
      const second = this.seconds[at]!
      if (second > current - this.seconds.length && second <= current)
        for (const [kind, n] of this.buckets[at]!) out[kind] = (out[kind] ?? 0) + n
    }
    return out
  }

  /** Every occurrence in the window, whatever its kind. */
  total(now = Date.now()): number {
    return Object.values(this.counts(now)).reduce((sum, n) => sum + n, 0)
  }
}
