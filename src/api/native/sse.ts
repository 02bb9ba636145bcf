import type { ServerResponse } from 'node:http'
import type { FastifyReply } from 'fastify'
import { eventJson } from '../../events/json.js'
import type { GatewayEvent } from '../../events/types.js'
import { EVENT_STREAM_TYPE } from '../media-types.js'
import { Pacer } from './backpressure.js'

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
  /**
   * Not chunked: the stream ends with its connection. For the long-lived `/events` streams, where an event
   * then is one piece written to each subscriber's socket instead of four (size, CRLF, frame, CRLF), about 40%
   * less work per subscriber. A turn's stream stays chunked, keeping its connection for the client's next
   * request.
   */
  endsWithConnection?: boolean
  onClose(): void
}

/**
 * Each published event's SSE frame, built and encoded once: the bus hands the same event object to every
 * subscriber of its session, and serialising it for each one was most of the cost of a wide fan-out.
 */
const frames = new WeakMap<GatewayEvent, Buffer>()

/**
 * A text/event-stream of gateway events: the sequence number is the SSE id (so a reconnect's
 * Last-Event-ID resumes exactly), the type is the SSE event name, heartbeats keep proxies from closing it.
 * Writes are paced by the subscriber's socket (`send` answers false when it is full, see backpressure.ts).
 */
export class EventStream {
  private readonly raw: ServerResponse
  private readonly heartbeat: NodeJS.Timeout | null
  private readonly pacer: Pacer<string | Buffer>
  closed = false

  constructor(
    reply: FastifyReply,
    private readonly options: SseOptions,
  ) {
    reply.hijack()
    this.raw = reply.raw
    this.pacer = new Pacer<string | Buffer>(this.raw, options, () => this.stalled())
    const endsWithConnection = options.endsWithConnection === true
    if (endsWithConnection) this.raw.useChunkedEncodingByDefault = false
    this.raw.writeHead(200, {
      'content-type': EVENT_STREAM_TYPE,
      'cache-control': 'no-cache',
      connection: endsWithConnection ? 'close' : 'keep-alive',
      'x-accel-buffering': 'no',
      'x-request-id': reply.request.id,
    })
    this.raw.write(': connected\n\n')
    this.heartbeat =
      options.heartbeatMs > 0 ? setInterval(() => this.write(': heartbeat\n\n'), options.heartbeatMs) : null
    this.raw.on('close', () => this.close())
  }

  /** Writes the event. False when the subscriber's socket is full (or the stream closed): see `drained()`. */
  send(event: GatewayEvent): boolean {
    let frame = frames.get(event)
    if (frame === undefined) {
      frame = Buffer.from(`id: ${event.seq}\nevent: ${event.type}\ndata: ${eventJson(event)}\n\n`)
      frames.set(event, frame)
    }
    return this.write(frame)
  }

  /** Resolves once what was sent has left for the subscriber, or the stream has closed. */
  drained(): Promise<void> {
    return this.pacer.drained()
  }

  /** End with a last `error` event saying why (no `id`: it is not one of the session's events). */
  fail(code: string, message: string): void {
    this.write(`event: error\ndata: ${JSON.stringify({ code, message })}\n\n`)
    this.close()
  }

  close(): void {
    if (this.closed) return
    this.closed = true
    if (this.heartbeat) clearInterval(this.heartbeat)
    if (!this.raw.writableEnded) this.raw.end()
    this.pacer.end()
    this.options.onClose()
  }

  private write(chunk: string | Buffer): boolean {
    if (this.closed) return false
    return this.pacer.write(chunk)
  }

  /** The subscriber took nothing for `stallTimeoutMs`: told why (when it reads again), and let go. */
  private stalled(): void {
    if (this.closed) return
    this.closed = true
    const { maxBufferedBytes, stallTimeoutMs } = this.options
    this.raw.end(
      `event: error\ndata: ${JSON.stringify({ code: 'slow_consumer', message: `This subscriber took no data for ${stallTimeoutMs} ms while more than ${maxBufferedBytes} bytes of events waited for it; reconnect with Last-Event-ID to resume` })}\n\n`,
    )
    if (this.heartbeat) clearInterval(this.heartbeat)
    this.pacer.end()
    this.options.onClose()
  }
}
