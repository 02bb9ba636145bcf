/**
 * The dashboard's figures over time: one sample a second in a ring of `capacity` (metrics.historySeconds),
 * so the charts have the last minutes without the gateway keeping more as it runs longer.
 */
export class History<T extends { at: number }> {
  private readonly ring: (T | undefined)[]
  private next = 0
  private size = 0

  constructor(readonly capacity: number) {
    this.ring = new Array<T | undefined>(capacity)
  }

  push(sample: T): void {
    this.ring[this.next] = sample
    this.next = (this.next + 1) % this.capacity
    if (this.size < this.capacity) this.size++
  }

  /** The samples taken in the last `seconds` before `now` (all kept ones when omitted), oldest first. */
  since(seconds?: number, now = Date.now()): T[] {
    const from = seconds === undefined ? -Infinity : now - seconds * 1000
    const out: T[] = []
    const start = (this.next - this.size + this.capacity) % this.capacity
    for (let i = 0; i < this.size; i++) {
      const sample = this.ring[(start + i) % this.capacity]!
      if (sample.at > from) out.push(sample)
    }
    return out
  }
}
