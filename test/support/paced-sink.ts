/**
 * The sink side of the bus's followers (EventBus.follow, followAll) for tests: room for `room` items at a
 * time, then full until the test calls `drain()`, like a socket whose reader has not read yet.
 */
import assert from 'node:assert/strict'
import { setImmediate as loopTurn } from 'node:timers/promises'

export class PacedSink<T> {
  readonly received: T[] = []
  readonly failures: unknown[] = []
  /** How many times `drained()` was waited for. */
  waits = 0
  private used = 0
  private release: (() => void) | null = null

  constructor(private readonly room: number) {}

  /** Records `item`; false once the sink is full. */
  protected take(item: T): boolean {
    this.received.push(item)
    this.used++
    return this.used < this.room
  }

  drained(): Promise<void> {
    this.waits++
    return new Promise((resolve) => {
      this.release = resolve
    })
  }

  fail(error: unknown): void {
    this.failures.push(error)
  }

  get waiting(): boolean {
    return this.release !== null
  }

  /** The reader took everything: room again. Returns once the follower waits again or has nothing more to send. */
  async drain(): Promise<void> {
    assert.ok(this.release, 'the follower waits for the sink')
    this.used = 0
    const release = this.release
    this.release = null
    release()
    await this.settled()
  }

  /** Once the follower waits for this sink, or a few turns of the loop brought no item (a page takes one). */
  async settled(): Promise<void> {
    let quiet = 0
    while (!this.waiting && quiet < 3) {
      const before = this.received.length
      await loopTurn()
      quiet = this.received.length === before ? quiet + 1 : 0
    }
  }
}

/** The integers from `first` to `last`, both included. */
export const range = (first: number, last: number) =>
  Array.from({ length: last - first + 1 }, (_, i) => first + i)
