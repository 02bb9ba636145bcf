/**
 * The tab's one multiplexed event stream: `GET /api/events` read with fetch (the key goes in a header,
 * never the URL), every frame's `id:` remembered, and on any cut (network, server restart, `slow_consumer`,
 * a silent connection) a reconnection after a growing delay that resumes with `Last-Event-ID`, so nothing
 * is missed. A frame at or before the last position seen is dropped, so nothing is delivered twice.
 * Plain TypeScript, no DOM: node:test drives it with a fake fetch.
 */
import type { LiveEvent } from '../api/types/events.js'
import { readSse, type SseFrame } from './sse.js'

export type ConnectionStatus = 'connecting' | 'open' | 'reconnecting' | 'unauthorized' | 'stopped'

export interface StreamError {
  code: string
  message: string
}

export interface StreamOptions {
  url?: string
  /** Only these sessions / event types; all when absent. */
  sessions?: readonly string[]
  types?: readonly string[]
  fetch?: typeof fetch
  headers?: () => Record<string, string>
  /** The gateway answered 401 to a request with these headers: the stream waits for `reconnect()` (after a new key). */
  onUnauthorized?: (sent: Record<string, string>) => void
  initialDelayMs?: number
  maxDelayMs?: number
  /** Nothing received, not even a heartbeat (every 15 s by default), for this long: the connection is dead. */
  silenceMs?: number
  random?: () => number
}

type Listener = (event: LiveEvent) => void

export class LiveStream {
  #status: ConnectionStatus = 'stopped'
  #position: number | undefined
  #lastError: StreamError | undefined
  #attempt = 0
  #controller: AbortController | undefined
  #retry: ReturnType<typeof setTimeout> | undefined
  #silence: ReturnType<typeof setTimeout> | undefined
  readonly #listeners = new Set<Listener>()
  readonly #statusListeners = new Set<() => void>()
  readonly #options: Required<Omit<StreamOptions, 'sessions' | 'types'>>
  readonly #url: string

  constructor(options: StreamOptions = {}) {
    this.#options = {
      url: '/api/events',
      fetch: (input, init) => globalThis.fetch(input, init),
      headers: () => ({}),
      onUnauthorized: () => {},
      initialDelayMs: 500,
      maxDelayMs: 15_000,
      silenceMs: 45_000,
      random: Math.random,
      ...options,
    }
    const query = new URLSearchParams()
    if (options.sessions) query.set('sessions', options.sessions.join(','))
    if (options.types) query.set('types', options.types.join(','))
    const search = query.toString()
    this.#url = search ? `${this.#options.url}?${search}` : this.#options.url
  }

  get status(): ConnectionStatus {
    return this.#status
  }

  /** The last position received (the `id:` of the last frame), sent as `Last-Event-ID` on reconnection. */
  get position(): number | undefined {
    return this.#position
  }

  /** The last `event: error` the server sent before cutting the stream (e.g. `slow_consumer`). */
  get lastError(): StreamError | undefined {
    return this.#lastError
  }

  subscribe(listener: Listener): () => void {
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }

  onStatus(listener: () => void): () => void {
    this.#statusListeners.add(listener)
    return () => this.#statusListeners.delete(listener)
  }

  start(): void {
    if (this.#status !== 'stopped') return
    this.#setStatus('connecting')
    void this.#connect()
  }

  stop(): void {
    this.#setStatus('stopped')
    this.#close()
  }

  /** Reconnects now, resuming from the last position (after a new key, or a user's "retry"). */
  reconnect(): void {
    this.#close()
    this.#attempt = 0
    this.#setStatus(this.#position === undefined ? 'connecting' : 'reconnecting')
    void this.#connect()
  }

  #close(): void {
    clearTimeout(this.#retry)
    clearTimeout(this.#silence)
    this.#controller?.abort()
    this.#controller = undefined
  }

  async #connect(): Promise<void> {
    const controller = new AbortController()
    this.#controller = controller
    const headers: Record<string, string> = { accept: 'text/event-stream', ...this.#options.headers() }
    if (this.#position !== undefined) headers['last-event-id'] = String(this.#position)
    try {
      const response = await this.#options.fetch(this.#url, { headers, signal: controller.signal })
      if (response.status === 401) {
        this.#controller = undefined
        this.#setStatus('unauthorized')
        this.#options.onUnauthorized(headers)
        return
      }
      if (!response.ok || !response.body) throw new Error(`GET /api/events answered ${response.status}`)
      this.#setStatus('open')
      this.#alive(controller)
      await readSse(response.body, {
        frame: (frame) => {
          this.#alive(controller)
          this.#frame(frame)
        },
        comment: () => this.#alive(controller),
      })
    } catch {
      // A cut, a refusal or a dead connection: all end in a reconnection below, unless stopped meanwhile.
    }
    clearTimeout(this.#silence)
    if (this.#controller !== controller) return
    this.#controller = undefined
    this.#setStatus('reconnecting')
    const base = Math.min(this.#options.maxDelayMs, this.#options.initialDelayMs * 2 ** this.#attempt)
    this.#attempt += 1
    // Jittered, so that the tabs of a restarted gateway do not all come back in the same instant.
    this.#retry = setTimeout(() => void this.#connect(), base * (0.5 + this.#options.random() / 2))
  }

  /** Bytes arrived: the connection is alive, and a stream that delivers resets the delay. */
  #alive(controller: AbortController): void {
    clearTimeout(this.#silence)
    this.#silence = setTimeout(() => controller.abort(), this.#options.silenceMs)
  }

  #frame({ id, event, data }: SseFrame): void {
    if (event === 'stream.position') {
      this.#position ??= (JSON.parse(data) as { pos: number }).pos
      this.#attempt = 0
      return
    }
    if (event === 'error') {
      this.#lastError = JSON.parse(data) as StreamError
      return
    }
    const pos = Number(id)
    if (id === undefined || !Number.isSafeInteger(pos)) return
    if (this.#position !== undefined && pos <= this.#position) return
    this.#position = pos
    this.#attempt = 0
    const live = { ...(JSON.parse(data) as LiveEvent), pos }
    for (const listener of this.#listeners) listener(live)
  }

  #setStatus(status: ConnectionStatus): void {
    if (status === this.#status) return
    this.#status = status
    for (const listener of this.#statusListeners) listener()
  }
}
