import type { ServerResponse } from 'node:http'
import type { FastifyReply } from 'fastify'
import { eventJson } from '../../events/json.js'
import type { GatewayEvent } from '../../events/types.js'
import { EVENT_STREAM_TYPE } from '../media-types.js'

export interface SseOptions {
  heartbeatMs: number
  /** A subscriber whose unsent bytes exceed this is cut off (with a reason) rather than slowing anyone. */
  maxBufferedBytes: number
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
 */
export class EventStream {
  private readonly raw: ServerResponse
  private readonly heartbeat: NodeJS.Timeout | null
  closed = false

  constructor(
    reply: FastifyReply,
    private readonly options: SseOptions,
  ) {
    reply.hijack()
    this.raw = reply.raw
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

  send(event: GatewayEvent): void {
    let frame = frames.get(event)
    if (frame === undefined) {
      frame = Buffer.from(`id: ${event.seq}\nevent: ${event.type}\ndata: ${eventJson(event)}\n\n`)
      frames.set(event, frame)
    }
    this.write(frame)
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
    this.options.onClose()
  }

  private write(chunk: string | Buffer): void {
    if (this.closed) return
    if (this.raw.writableLength > this.options.maxBufferedBytes) {
      this.closed = true
      this.raw.end(
        `event: error\ndata: ${JSON.stringify({ code: 'slow_consumer', message: `More than ${this.options.maxBufferedBytes} bytes of events were waiting for this subscriber; reconnect with Last-Event-ID to resume` })}\n\n`,
      )
      if (this.heartbeat) clearInterval(this.heartbeat)
      this.options.onClose()
      return
    }
    this.raw.write(chunk)
  }
}
