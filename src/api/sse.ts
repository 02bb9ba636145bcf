/**
 * The one text/event-stream writer of both APIs (native events, OpenAI chunks): the stream's headers, a
 * keep-alive comment, and writes paced by the client's socket (backpressure.ts), so a client that reads
 * slowly gets everything and one that stops reading is cut off with a last frame in its API's own shape.
 */
import type { OutgoingHttpHeaders, Server, ServerResponse } from 'node:http'
import type { FastifyReply } from 'fastify'
import { noteRequest } from '../observability/request-log.js'
import { type PaceLimits, Pacer } from './backpressure.js'
import { EVENT_STREAM_TYPE } from './media-types.js'

export interface SseWriterOptions extends PaceLimits {
  /** Headers after the stream's own (x-session-id, server-timing). */
  headers?: OutgoingHttpHeaders
  /** Written before anything else (the native `: connected` comment). */
  opening?: string
  /**
   * A comment that keeps proxies from closing a quiet stream, every `everyMs` (0: never); with `whenIdle`,
   * only when nothing else was written for that long.
   */
  keepAlive?: { everyMs: number; comment: string; whenIdle: boolean }
  /**
   * Not chunked: the stream ends with its connection. For the long-lived `/events` streams, where an event
   * then is one piece written to each subscriber's socket instead of four (size, CRLF, frame, CRLF), about 40%
   * less work per subscriber. A turn's stream stays chunked, keeping its connection for the client's next
   * request.
   */
  endsWithConnection?: boolean
  /** The last frame for a client that stalled (took no byte for `stallTimeoutMs` while full): says why. */
  stalledFrame(): string
  /** The stream ended: written out, hung up on (`stalled` false), or cut off for a stall (`stalled` true). */
  onClose(stalled: boolean): void
}

/** Every stream open now, by HTTP server: what a drain tells to reconnect (src/lifecycle/drain.ts). */
const openWriters = new Map<Server, Set<SseWriter>>()

/**
 * A hijacked reply written as a text/event-stream. Frames go out as given (each API builds its own); `write`
 * answers false like a Node stream when the caller should await `drained()` before writing more.
 */
export class SseWriter {
  private readonly raw: ServerResponse
  /** The HTTP server the stream is served by: a process may run several gateways (the tests do). */
  private readonly server: Server
  private readonly keepAlive: NodeJS.Timeout | null
  private readonly pacer: Pacer<string | Buffer>
  private lastWrite = Date.now()
  closed = false

  constructor(
    reply: FastifyReply,
    private readonly options: SseWriterOptions,
  ) {
    reply.hijack()
    noteRequest(reply.request, { streamed: true })
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
      ...options.headers,
    })
    if (options.opening) this.write(options.opening)
    this.keepAlive = this.startKeepAlive()
    this.raw.on('close', () => this.end())
    this.server = reply.server.server
    const writers = openWriters.get(this.server) ?? new Set()
    openWriters.set(this.server, writers.add(this))
  }

  /** Ends every stream open on `server` with `last` (a drain's `retry:` frame); answers how many there were. */
  static endAll(server: Server, last: string): number {
    const writers = [...(openWriters.get(server) ?? [])]
    for (const writer of writers) writer.finish(false, last)
    openWriters.delete(server)
    return writers.length
  }

  /** Writes a frame. False when the client's socket is full (or the stream ended): see `drained()`. */
  write(frame: string | Buffer): boolean {
    if (this.closed) return false
    this.lastWrite = Date.now()
    return this.pacer.write(frame)
  }

  /** Resolves once what was written has left for the client, or the stream has ended. */
  drained(): Promise<void> {
    return this.pacer.drained()
  }

  end(): void {
    this.finish(false)
  }

  private startKeepAlive(): NodeJS.Timeout | null {
    const keepAlive = this.options.keepAlive
    if (!keepAlive || keepAlive.everyMs <= 0) return null
    const { everyMs, comment, whenIdle } = keepAlive
    return setInterval(() => {
      if (!whenIdle || Date.now() - this.lastWrite >= everyMs) this.write(comment)
    }, everyMs)
  }

  /** The client took nothing for `stallTimeoutMs`: told why (when it reads again), and let go. */
  private stalled(): void {
    if (!this.closed) this.finish(true, this.options.stalledFrame())
  }

  private finish(stalled: boolean, last?: string): void {
    if (this.closed) return
    this.closed = true
    const writers = openWriters.get(this.server)
    writers?.delete(this)
    if (writers?.size === 0) openWriters.delete(this.server)
    if (this.keepAlive) clearInterval(this.keepAlive)
    if (!this.raw.writableEnded) this.raw.end(last)
    this.pacer.end()
    this.options.onClose(stalled)
  }
}
