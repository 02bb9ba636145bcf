import { isStoreError } from '../store/errors.js'
import type { Store } from '../store/types.js'
import type { GatewayEvent } from './types.js'

/**
 * Each published event's global position: the bus numbers every event of every session in one order
 * (`pos`), beside each session's own `seq`. Kept here rather than in the event, whose JSON the per-session
 * APIs send unchanged (and which json.ts serialises once for every consumer).
 */
const positions = new WeakMap<GatewayEvent, number>()

/** The event's global position; undefined for an event the bus did not publish (built by hand, read back). */
export function positionOf(event: GatewayEvent): number | undefined {
  return positions.get(event)
}

/** Records the position the bus gave the event. */
export function setPosition(event: GatewayEvent, pos: number): void {
  positions.set(event, pos)
}

/** An event with its global position, as the store and `followAll` hand them out. */
export interface PositionedEvent {
  pos: number
  event: GatewayEvent
}

/**
 * Positions reserved in the store at a time (`Store.reservePositions`): one synced write per this many
 * events, and as many positions left unused, at most, by each restart.
 */
export const POSITION_BLOCK = 1_000

/**
 * Hands out the global positions, never one twice, even one whose event was lost before its write (the
 * bus sends an event live before writing it, so a client may hold that position as its cursor): a block
 * of positions is reserved durably in the store before the first of it is handed out, and a counter on a
 * reopened store starts above the last reserved.
 */
export class PositionCounter {
  private position: number
  /** Positions up to this one are reserved in the store: they may be handed out. */
  private reserved: number

  constructor(private readonly store: Pick<Store, 'lastPos' | 'reservedPos' | 'reservePositions'>) {
    this.position = Math.max(store.lastPos(), store.reservedPos())
    this.reserved = this.position
  }

  /** The last position handed out, or the start (0 on a new store). */
  get last(): number {
    return this.position
  }

  /**
   * The next position, reserving a new block first when needed and `reserve` says the storage may be
   * written; if not, or if the write fails, the position is handed out unreserved until `reserveHandedOut`.
   */
  next(reserve: boolean): number {
    if (this.position >= this.reserved && reserve) this.reserveBlock()
    return ++this.position
  }

  /** Reserves the positions handed out unreserved (before their events are written). */
  reserveHandedOut(): void {
    if (this.position > this.reserved) this.reserveBlock()
  }

  private reserveBlock(): void {
    const upTo = this.position + POSITION_BLOCK
    try {
      this.store.reservePositions(upTo)
      this.reserved = upTo
    } catch (error) {
      // The storage fails: its events wait too, and `reserveHandedOut` reserves before they are written.
      if (!isStoreError(error)) throw error
    }
  }
}
