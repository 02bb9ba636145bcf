import type { PositionQuery } from '../store/types.js'
import { type EventBus, REPLAY_PAGE_SIZE, type Subscription } from './bus.js'
import { CatchUp } from './catch-up.js'
import type { PositionedEvent } from './positions.js'
import type { EventType, GatewayEvent } from './types.js'

/** Which events `followAll` sends: of every session (including those created later) unless narrowed. */
export interface EventFilter {
  sessionIds?: readonly string[]
  types?: readonly EventType[]
}

/** Like `EventSink`, with each event's global position (the stream's cursor). */
export interface PositionedSink {
  /** Takes the event. False when the consumer is full: nothing more is sent until `drained()` resolves. */
  send(event: GatewayEvent, pos: number): boolean
  /** Resolves once the consumer has room again, or has ended. */
  drained(): Promise<void>
  /** The events could not be read: the sink ends, saying why. */
  fail(error: unknown): void
}

/**
 * `EventBus.follow` across sessions: every event `filter` selects after global position `afterPos`, in
 * position order, at the consumer's pace. Stored events (and those still waiting to be written) are read a
 * page at a time while the sink has room; the switch to the live events happens after a read that found
 * nothing more, when nothing was published while it was under way, and in the same tick as that check, so
 * nothing comes in between; a sink that fills up leaves the live fan-out and catches up from the store. Each
 * event reaches the sink once; nothing is queued here for it.
 */
export function followAll(
  bus: EventBus,
  afterPos: number,
  filter: EventFilter,
  sink: PositionedSink,
  pageSize = REPLAY_PAGE_SIZE,
): Subscription {
  const sessions = filter.sessionIds && new Set(filter.sessionIds)
  const types = filter.types && new Set<string>(filter.types)
  const query: PositionQuery = { sessionIds: filter.sessionIds, types: filter.types, limit: pageSize }
  const catchUp: CatchUp<PositionedEvent> = new CatchUp(afterPos, sink, {
    published: () => bus.lastPos,
    read: (after) => bus.readAfter(after, query),
    placeOf: ({ pos }) => pos,
    send: ({ event, pos }) => sink.send(event, pos),
    goLive: () => {
      // Every event published so far was considered: those the filter left out of the reads too. With a
      // shared log the read may have gone past the feed (events committed it has not read yet): those were
      // sent, and the feed gives only what comes after.
      catchUp.sent = Math.max(catchUp.sent, bus.lastPos)
      return bus.subscribeStored(onLive, catchUp.sent)
    },
  })
  const onLive = ({ event, pos }: PositionedEvent) => {
    // An event published from inside another delivery may have been read already, by the catch-up that
    // subscribed: the position tells.
    if (catchUp.closed || pos <= catchUp.sent) return
    catchUp.sent = pos
    if ((sessions && !sessions.has(event.sessionId)) || (types && !types.has(event.type))) return
    if (sink.send(event, pos) || catchUp.closed) return
    catchUp.fellBehind()
  }
  return catchUp.start()
}
