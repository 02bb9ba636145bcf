/**
 * The spares on their way up. A new conversation whose profile matches one may claim it rather than start a
 * process of its own: it is up sooner than a process started now (and needs no slot freed for it), and one
 * conversation never costs two starts. Right after a burst took every spare, this is where the next new
 * conversation finds its process.
 */
import type { Runner } from './runner.js'

export interface StartingSpare {
  readonly key: string
  claimed: boolean
  /** The process, for the conversation that claimed it; null if it did not come up. */
  readonly handOff: Promise<Runner | null>
  settle(runner: Runner | null): void
}

export class StartingSpares {
  private readonly starting: StartingSpare[] = []

  /** Every spare being started, claimed or not: each is taking its share of the CPU. */
  get size(): number {
    return this.starting.length
  }

  /** Those no conversation has claimed: the spares on their way. */
  get unclaimed(): number {
    return this.starting.filter((spare) => !spare.claimed).length
  }

  /** Those of one profile no conversation has claimed. */
  unclaimedOf(key: string): number {
    return this.starting.filter((spare) => spare.key === key && !spare.claimed).length
  }

  /** A spare of this profile starts. */
  add(key: string): StartingSpare {
    let settle!: (runner: Runner | null) => void
    const handOff = new Promise<Runner | null>((resolve) => {
      settle = resolve
    })
    const spare: StartingSpare = { key, claimed: false, handOff, settle }
    this.starting.push(spare)
    return spare
  }

  /** The spare is up, handing its process to the conversation that claimed it, or it did not come up (null). */
  settle(spare: StartingSpare, runner: Runner | null): void {
    spare.settle(runner)
    const index = this.starting.indexOf(spare)
    if (index >= 0) this.starting.splice(index, 1)
  }

  /** Claims an unclaimed spare of this profile: its process once up (null if it fails); null when none starts. */
  claim(key: string): Promise<Runner | null> | null {
    const spare = this.starting.find((candidate) => candidate.key === key && !candidate.claimed)
    if (!spare) return null
    spare.claimed = true
    return spare.handOff
  }
}
