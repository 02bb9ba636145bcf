import { randomBytes } from 'node:crypto'
import { IncomingMessage, type Server, ServerResponse } from 'node:http'
import type { FastifyBaseLogger, FastifyHttpOptions, FastifyRequest } from 'fastify'
import { LogController } from 'fastify'
import type { Bindings, ChildLoggerOptions, Level, Logger } from 'pino'
import { requestLineWriter } from './request-line.js'

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The level of this route's request line; `debug` for probes that poll every few seconds. */
    requestLogLevel?: 'debug' | 'info'
  }
}

/**
 * A raw request, with what its log line needs. Node makes every request of the server with this class
 * (`http.createServer`'s `IncomingMessage` option), so the fields have one shape from the start.
 */
export class LoggedRequest extends IncomingMessage {
  /** When Node had parsed the request's head. */
  readonly startedAt = performance.now()
  requestId = ''
  /** The route Fastify matched (see `recordRoute`); null until then, and for a URL no route matches. */
  route: FastifyRequest['routeOptions']['config'] | null = null
}

/**
 * What a request id may be: the gateway's own (base 36, `k3x9q-1a`) or a caller's `x-request-id` that matches
 * it. None of these characters needs escaping in JSON, so the request line writes ids as they are.
 */
export const REQUEST_ID = /^[\w.:-]{1,128}$/

/**
 * The Fastify options that make the gateway's request logging: one line per request, written when its
 * response closes, and `request.log` for handlers.
 *
 * Fastify itself runs without a logger. With one it makes a child logger for every request and puts two
 * listeners on every response for its own completion line: with the gateway's line that was about 4 µs of
 * the ~30 µs a cheap request costs. Here a response has one listener, which the line needs anyway, and a
 * handler's `request.log` is made the first time it logs (`LazyRequestLogger`).
 */
export function requestLogging(
  log: Logger,
): Pick<FastifyHttpOptions<Server>, 'http' | 'genReqId' | 'childLoggerFactory' | 'logController'> {
  const writeByHand = requestLineWriter(log)

  function writeLine(this: ServerResponse): void {
    // The server makes every request a LoggedRequest (the `http` option below).
    const request = this.req as LoggedRequest
    const status = this.statusCode
    const level = status >= 500 ? 'error' : (request.route?.requestLogLevel ?? 'info')
    if (!log.isLevelEnabled(level)) return
    const { requestId, method = '' } = request
    const route = request.route?.url ?? 'unmatched'
    const hundredths = Math.round((performance.now() - request.startedAt) * 100)
    // The client went away before the whole response was written.
    const aborted = !this.writableFinished
    if (writeByHand) {
      writeByHand(log.levels.values[level] as number, requestId, method, route, status, hundredths, aborted)
      return
    }
    const line = { reqId: requestId, method, route, status, durationMs: hundredths / 100 }
    log[level](aborted ? { ...line, aborted } : line, 'request')
  }

  class LoggedResponse extends ServerResponse {
    constructor(...args: ConstructorParameters<typeof ServerResponse>) {
      super(...args)
      // 'close' rather than 'finish': a response the client abandoned gets its line too.
      this.on('close', writeLine)
    }
  }

  // Request ids are this server's random prefix and a counter, in base 36: unique without a random draw
  // per request. Kept under 13 characters (until the 2-billionth request), the length from which V8 makes
  // a joined string a rope: Node checks every header value with a regular expression, which must flatten
  // a rope first (a copy and a runtime call, ~0.5 µs a request here).
  const idPrefix = (randomBytes(4).readUInt32BE(0) % 36 ** 5).toString(36).padStart(5, '0')
  let requests = 0
  return {
    // The cast: Node's typings cannot say "a ServerResponse of this IncomingMessage subclass".
    http: { IncomingMessage: LoggedRequest, ServerResponse: LoggedResponse as typeof ServerResponse },
    // A caller's own request id is kept (so it can correlate logs), anything else gets a fresh one.
    genReqId(raw) {
      const given = raw.headers['x-request-id']
      const id =
        typeof given === 'string' && REQUEST_ID.test(given)
          ? given
          : `${idPrefix}-${(++requests).toString(36)}`
      ;(raw as LoggedRequest).requestId = id
      return id
    },
    childLoggerFactory: (_fastifysOwn, bindings, options) => new LazyRequestLogger(log, bindings, options),
    logController: new QuietLogController(),
  }
}

/** Records the route a request matched, for its line: from an `onRequest` hook, which runs once it is routed. */
export function recordRoute(request: FastifyRequest): void {
  const { config } = request.routeOptions
  if (config.url !== undefined) (request.raw as LoggedRequest).route = config
}

/**
 * Fastify's own per-request lines (incoming, not found, completed) are the gateway's one line instead.
 * Its lines about failures (errors, broken streams) stay.
 */
class QuietLogController extends LogController {
  override incomingRequest(): void {}
  override routeNotFound(): void {}
  override requestCompleted(): void {}
}

/**
 * Fastify asks for a child logger (bound to the request id) for every request, and most requests never log
 * a line of their own: the child is made the first time something logs through it.
 */
class LazyRequestLogger implements FastifyBaseLogger {
  #made: FastifyBaseLogger | null = null

  constructor(
    private readonly parent: FastifyBaseLogger,
    private readonly bindings: Bindings,
    private readonly options: ChildLoggerOptions,
  ) {}

  private get logger(): FastifyBaseLogger {
    this.#made ??= this.parent.child(this.bindings, this.options)
    return this.#made
  }

  get level(): string {
    return this.#made?.level ?? this.options.level ?? this.parent.level
  }

  set level(level: string) {
    this.logger.level = level
  }

  // Methods on the prototype, not arrow functions: seven closures per request would cost what this saves.
  fatal(...args: unknown[]): void {
    this.logAt('fatal', args)
  }
  error(...args: unknown[]): void {
    this.logAt('error', args)
  }
  warn(...args: unknown[]): void {
    this.logAt('warn', args)
  }
  info(...args: unknown[]): void {
    this.logAt('info', args)
  }
  debug(...args: unknown[]): void {
    this.logAt('debug', args)
  }
  trace(...args: unknown[]): void {
    this.logAt('trace', args)
  }
  silent(): void {}

  child(bindings: Bindings, options?: ChildLoggerOptions): FastifyBaseLogger {
    return this.logger.child(bindings, options)
  }

  private logAt(level: Level, args: unknown[]): void {
    ;(this.logger as unknown as Record<Level, (...args: unknown[]) => void>)[level](...args)
  }
}
