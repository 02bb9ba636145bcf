import { Type } from '@sinclair/typebox'
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { Subscription } from '../../events/bus.js'
import { eventJson } from '../../events/json.js'
import type { GatewayEvent } from '../../events/types.js'
import { EVENT_STREAM_TYPE } from '../media-types.js'
import { SseWriter } from '../sse.js'
import { toApiError } from './errors.js'

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
  /** What the frames' ids are: `seq` unless said. */
  ids?: FrameIds
  onClose(): void
}

/**
 * What a stream's frames carry as their `id`, the cursor a reconnect sends back as Last-Event-ID: the
 * event's `seq` on a session's streams, its global position on GET /api/events.
 */
export type FrameIds = 'seq' | 'pos'

/**
 * Each published event's SSE frame, built and encoded once per kind of id: the bus hands the same event
 * object to every subscriber, and serialising it for each one was most of the cost of a wide fan-out.
 */
const frames: Record<FrameIds, WeakMap<GatewayEvent, Buffer>> = { seq: new WeakMap(), pos: new WeakMap() }

function frameOf(event: GatewayEvent, ids: FrameIds, id: number): Buffer {
  let frame = frames[ids].get(event)
  if (frame === undefined) {
    frame = Buffer.from(`id: ${id}\nevent: ${event.type}\ndata: ${eventJson(event)}\n\n`)
    frames[ids].set(event, frame)
  }
  return frame
}

const errorFrame = (code: string, message: string) =>
  `event: error\ndata: ${JSON.stringify({ code, message })}\n\n`

/**
 * A text/event-stream of gateway events: the sequence number is the SSE id (so a reconnect's
 * Last-Event-ID resumes exactly), the type is the SSE event name, heartbeats keep proxies from closing it.
 * Writes are paced by the subscriber's socket (`send` answers false when it is full, see ../sse.ts).
 */
export class EventStream {
  private readonly writer: SseWriter
  private readonly ids: FrameIds

  constructor(reply: FastifyReply, options: SseOptions) {
    const { maxBufferedBytes, stallTimeoutMs } = options
    this.ids = options.ids ?? 'seq'
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

  /**
   * Writes the event, `id` its frame's id (its `seq` by default; its position on a stream of positions).
   * False when the subscriber's socket is full (or the stream closed): see `drained()`.
   */
  send(event: GatewayEvent, id = event.seq): boolean {
    return this.writer.write(frameOf(event, this.ids, id))
  }

  /** Writes a frame of the stream's own (GET /api/events' `stream.position`). Like `send`. */
  write(frame: string | Buffer): boolean {
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

/** Where a followed stream's events go: `EventSink` and `PositionedSink` (events/), `id` the frame's. */
export interface StreamSink {
  send(event: GatewayEvent, id?: number): boolean
  drained(): Promise<void>
  fail(error: unknown): void
}

/**
 * Answers a GET of a followed event stream (GET /sessions/{id}/events, GET /events): an EventStream that
 * `follow` feeds at the client's pace, until either side ends it. HEAD (which Fastify answers with the GET
 * handler) gets the stream's headers and no stream: Node drops what is written to a HEAD response, so a
 * stream would never reach its client, nor ever end.
 */
export function followedStream(
  request: FastifyRequest,
  reply: FastifyReply,
  options: Omit<SseOptions, 'onClose' | 'endsWithConnection'>,
  follow: (sink: StreamSink, stream: EventStream) => Subscription,
): FastifyReply {
  if (request.method === 'HEAD')
    return reply.header('content-type', EVENT_STREAM_TYPE).header('cache-control', 'no-cache').send()
  let subscription: Subscription | null = null
  const stream = new EventStream(reply, {
    ...options,
    endsWithConnection: true,
    onClose: () => subscription?.close(),
  })
  subscription = follow(
    {
      send: (event, id) => stream.send(event, id),
      drained: () => stream.drained(),
      fail: (error) => {
        const failure = toApiError(error)
        if (failure.status === 500) request.log.error({ err: error }, 'replaying events failed')
        stream.fail(failure.code, failure.message)
      },
    },
    stream,
  )
  if (stream.closed) subscription.close()
  return reply
}
