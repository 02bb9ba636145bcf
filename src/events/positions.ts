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

/** Records the position the event was given: by the bus, or by a store that `assignsPositions`. */
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
 * bus sends an event live before writing it, so a client may hold that position as its cursor): positions
 * are handed out from a block reserved durably in the store, and a counter on a reopened store starts above
 * the last reserved. The store answers later, so the next block is reserved ahead, once half of the current
 * one is used; a position handed out before its block's reservation resolved (or while the storage fails)
 * is reserved before its event is written (`reserveHandedOut`).
 */
export class PositionCounter {
  /** Positions up to this one are reserved in the store: they may be handed out. */
  private reserved: number
  /** The reservation being written, if one is. */
  private reserving: Promise<void> | null = null

  private constructor(
    private readonly store: Pick<Store, 'reservePositions'>,
    private position: number,
  ) {
    this.reserved = position
  }

  /**
   * A counter that starts above every position stored or reserved, with its first block reserved (unless
   * the storage fails: its first positions are then reserved before their events are written).
   */
  static async open(
    store: Pick<Store, 'lastPos' | 'reservedPos' | 'reservePositions'>,
  ): Promise<PositionCounter> {
    const [last, reserved] = await Promise.all([store.lastPos(), store.reservedPos()])
    const counter = new PositionCounter(store, Math.max(last, reserved))
    await counter.reserveBlock()
    return counter
  }

  /** The last position handed out, or the start (0 on a new store). */
  get last(): number {
    return this.position
  }

  /**
   * The next position. When `reserve` says the storage may be written, the next block is reserved once
   * half of the current one is used; a position past those reserved is handed out unreserved until
   * `reserveHandedOut`.
   */
  next(reserve: boolean): number {
    const position = ++this.position
    if (reserve && !this.reserving && this.reserved - position < POSITION_BLOCK / 2)
      // Not awaited: `reserveHandedOut` waits for it (and reserves again should it fail) before a write.
      void this.reserveBlock().catch(() => undefined)
    return position
  }

  /** Reserves the positions handed out unreserved: called before their events are written. */
  async reserveHandedOut(): Promise<void> {
    if (this.position <= this.reserved) return
    // The reservation under way may cover them; if not (or it failed), another one does.
    if (this.reserving) await this.reserving
    if (this.position > this.reserved) await this.reserveBlock()
  }

  /** Reserves the block after the positions handed out; a failing storage leaves them unreserved. */
  private reserveBlock(): Promise<void> {
    const upTo = Math.max(this.position, this.reserved) + POSITION_BLOCK
    const reserving = this.store.reservePositions(upTo).then(
      () => {
        this.reserved = Math.max(this.reserved, upTo)
      },
      (error: unknown) => {
        // The storage fails: its events wait too, and `reserveHandedOut` reserves before they are written.
        if (!isStoreError(error)) throw error
      },
    )
    const settled = reserving.finally(() => {
      if (this.reserving === settled) this.reserving = null
    })
    this.reserving = settled
    return settled
  }
}
