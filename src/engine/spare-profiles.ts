/**
 * Which profiles warm spares are kept for, and how many of each. A spare serves only a new conversation
 * with its exact start-up options, its credential set included (users with their own Claude account, see
 * src/users/credentials.ts): one profile per account is kept, the one its new conversations asked for
 * last. The account heard of last keeps the floor (`pool.warmSpares`) as a single profile did before;
 * the others keep spares only while their new conversations arrived within the demand window
 * (spare-demand.ts). All of them share one budget, `pool.maxSpares` (or the floor when it is not set),
 * handed out to the accounts heard of most recently first: a gateway without `maxSpares` keeps the spares
 * of the last account only, as before accounts existed.
 */
import type { SpareDemand } from './spare-demand.js'
import type { RunnerProfile } from './types.js'

/** Accounts whose profile is kept; the one heard of least recently goes first. */
const MAX_ACCOUNTS = 64

export interface SpareTarget {
  profile: RunnerProfile
  /** How many spares of this profile the pool keeps now (at least 1: profiles that get none are left out). */
  target: number
}

export class SpareProfiles {
  /** By account, least recently heard of first. */
  private readonly byAccount = new Map<string, RunnerProfile>()

  constructor(private readonly demand: SpareDemand) {}

  /** The profile new conversations asked for last; null before any. */
  get latest(): RunnerProfile | null {
    let last: RunnerProfile | null = null
    for (const profile of this.byAccount.values()) last = profile
    return last
  }

  /** A new conversation asks for `profile`: its account's profile now. True when that changed it. */
  set(profile: RunnerProfile): boolean {
    const account = profile.account ?? ''
    const previous = this.byAccount.get(account)
    this.byAccount.delete(account)
    this.byAccount.set(account, profile)
    if (this.byAccount.size > MAX_ACCOUNTS) this.byAccount.delete(this.byAccount.keys().next().value!)
    return previous?.key !== profile.key
  }

  /** Only `profile` from now on (the host options changed: every other profile is stale). */
  reset(profile: RunnerProfile): void {
    this.byAccount.clear()
    this.set(profile)
  }

  /** Whether spares of this profile are still wanted at all. */
  has(key: string): boolean {
    for (const profile of this.byAccount.values()) if (profile.key === key) return true
    return false
  }

  /**
   * The spares wanted per profile now, most recently heard of first, within the budget (`maxSpares`, else
   * `warmSpares`) and the slots.
   */
  targets(floor: number, maxSpares: number | undefined, slots: number, now = Date.now()): SpareTarget[] {
    const ceiling = maxSpares ?? floor
    let left = Math.min(slots, Math.max(floor, ceiling))
    const targets: SpareTarget[] = []
    const latest = this.latest
    for (const profile of [...this.byAccount.values()].reverse()) {
      if (left <= 0) break
      // Accounts other than the last one have no floor: a spare only while their conversations come.
      const wanted = this.demand.target(profile.key, profile === latest ? floor : 0, ceiling, now)
      const target = Math.min(left, wanted)
      if (target <= 0) continue
      targets.push({ profile, target })
      left -= target
    }
    return targets
  }

  /**
   * When one of these targets may fall next (an arrival leaves the window), in ms; null when none can: the
   * last account's target at its floor stays.
   */
  nextChange(targets: readonly SpareTarget[], floor: number, now = Date.now()): number | null {
    const latest = this.latest
    let soonest: number | null = null
    for (const { profile, target } of targets) {
      if (profile === latest && target <= floor) continue
      const next = this.demand.nextChange(profile.key, now)
      if (next !== null && (soonest === null || next < soonest)) soonest = next
    }
    return soonest
  }
}

/** The first profile short of its target: the account heard of last first, its next conversation the likeliest. */
export function firstShort(
  targets: readonly SpareTarget[],
  spares: (key: string) => number,
): RunnerProfile | undefined {
  return targets.find(({ profile, target }) => spares(profile.key) < target)?.profile
}

/**
 * The spares (oldest first in `spares`) to let go: those of a profile no longer wanted, and those beyond
 * its target, oldest first; the newest stay.
 */
export function surplus<S extends { key: string }>(
  spares: readonly S[],
  targets: readonly SpareTarget[],
): S[] {
  const room = new Map(targets.map(({ profile, target }) => [profile.key, target]))
  const going: S[] = []
  for (const spare of [...spares].reverse()) {
    const left = room.get(spare.key) ?? 0
    if (left > 0) room.set(spare.key, left - 1)
    else going.push(spare)
  }
  return going
}
