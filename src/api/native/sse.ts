import { Type } from '@sinclair/typebox'
import type { FastifyReply } from 'fastify'
import { eventJson } from '../../events/json.js'
import type { GatewayEvent } from '../../events/types.js'
import { SseWriter } from '../sse.js'

/**
 * A gateway event as the streams carry it: documented only (a stream is written, never serialised), and
 * registered as `Event` by the sessions plugin so that the stream descriptions can point at it.
 */
export const EventSchema = Type.Object(
  {
    type: Type.String(),
    seq: Type.Integer({ description: 'Per-session sequence number, from 1, without gaps.' }),
    ts: Type.Integer({ description: 'Milliseconds since the epoch.' }),
    sessionId: Type.String(),
  },
  {
    $id: 'Event',
    additionalProperties: true,
    description: 'A gateway event: the fields of its type plus this envelope (docs/events.md).',
  },
)

/** The text/event-stream content of a route's answer: what its frames hold, with an example. */
export const eventStreamContent = (description: string) => ({
  schema: {
    type: 'string',
    description,
    example:
      ': connected\n\nid: 3\nevent: turn.started\ndata: {"type":"turn.started","turnId":"…","content":"Hi","seq":3,"ts":1764167775000,"sessionId":"…"}\n\n',
  },
})

export interface SseOptions {
  heartbeatMs: number
  /**
   * Unsent bytes past which `send` answers false: the caller sends more once `drained()` resolves, so a
   * subscriber that reads slowly (or replays a long backlog) is paced rather than cut off.
   */
  maxBufferedBytes: number
  /**
   * A subscriber that takes no byte for this long while past `maxBufferedBytes` has stalled: it gets a
   * last `slow_consumer` event and the stream ends. 0: never.
   */
  stallTimeoutMs: number
  /** Not chunked: the stream ends with its connection (the long-lived `/events` streams, see SseWriter). */
  endsWithConnection?: boolean
  onClose(): void
}

/**
 * Each published event's SSE frame, built and encoded once: the bus hands the same event object to every
 * subscriber of its session, and serialising it for each one was most of the cost of a wide fan-out.
 */
const frames = new WeakMap<GatewayEvent, Buffer>()

const errorFrame = (code: string, message: string) =>
  `event: error\ndata: ${JSON.stringify({ code, message })}\n\n`

/**
 * A text/event-stream of gateway events: the sequence number is the SSE id (so a reconnect's
 * Last-Event-ID resumes exactly), the type is the SSE event name, heartbeats keep proxies from closing it.
 * Writes are paced by the subscriber's socket (`send` answers false when it is full, see ../sse.ts).
 */
export class EventStream {
  private readonly writer: SseWriter

  constructor(reply: FastifyReply, options: SseOptions) {
    const { maxBufferedBytes, stallTimeoutMs } = options
    this.writer = new SseWriter(reply, {
      maxBufferedBytes,
      stallTimeoutMs,
      endsWithConnection: options.endsWithConnection,
      opening: ': connected\n\n',
      keepAlive: { everyMs: options.heartbeatMs, comment: ': heartbeat\n\n', whenIdle: false },
      stalledFrame: () =>
        errorFrame(
          'slow_consumer',
          `This subscriber took no data for ${stallTimeoutMs} ms while more than ${maxBufferedBytes} bytes of events waited for it; reconnect with Last-Event-ID to resume`,
        ),
      onClose: () => options.onClose(),
    })
  }

  get closed(): boolean {
    return this.writer.closed
  }

  /** Writes the event. False when the subscriber's socket is full (or the stream closed): see `drained()`. */
  send(event: GatewayEvent): boolean {
    let frame = frames.get(event)
    if (frame === undefined) {
      frame = Buffer.from(`id: ${event.seq}\nevent: ${event.type}\ndata: ${eventJson(event)}\n\n`)
      frames.set(event, frame)
    }
    return this.writer.write(frame)
  }

  /** Resolves once what was sent has left for the subscriber, or the stream has closed. */
  drained(): Promise<void> {
    return this.writer.drained()
  }

  /** End with a last `error` event saying why (no `id`: it is not one of the session's events). */
  fail(code: string, message: string): void {
    this.writer.write(errorFrame(code, message))
    this.writer.end()
  }

  close(): void {
    this.writer.end()
  }
}
