import { type FastifyBaseLogger, type FastifyReply, type FastifyRequest, LogController } from 'fastify'
import pino, { type Bindings, type ChildLoggerOptions, type Level, type Logger } from 'pino'

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The level of this route's request line; `debug` for probes that poll every few seconds. */
    requestLogLevel?: 'debug' | 'info'
  }
}

/**
 * One log line per request, when its response is done: id, method, route, status and duration. Written
 * with the root logger and the id as a field, so a request that logs nothing else never makes its child
 * logger (see `LazyRequestLogger`).
 */
export class RequestLogController extends LogController {
  override incomingRequest(): void {}

  // The request line already says 404 with route "unmatched".
  override routeNotFound(): void {}

  override requestCompleted(
    error: Error | null | undefined,
    request: FastifyRequest,
    reply: FastifyReply,
  ): void {
    const status = reply.statusCode
    // `routeOptions` is a getter that builds a new object each time: read once.
    const route = request.routeOptions.config
    const level = status >= 500 ? 'error' : (route.requestLogLevel ?? 'info')
    const log = request.server.log as Logger
    if (!log.isLevelEnabled(level)) return
    const fields = {
      reqId: request.id,
      method: request.method,
      route: route.url ?? 'unmatched',
      status,
      durationMs: Math.round(reply.elapsedTime * 100) / 100,
    }
    if (error || !writeLineByHand(log, level, fields))
      log[level](error ? { ...fields, err: error } : fields, 'request')
  }
}

interface RequestLine {
  reqId: string
  method: string
  route: string
  status: number
  durationMs: number
}

const { chindingsSym, needsMetadataGsym, streamSym } = pino.symbols

/**
 * What a request id may be: the gateway's own (hex and base36) or a caller's `x-request-id` that matches
 * it (src/server.ts). None of these characters needs escaping in JSON, so the request line writes ids as
 * they are.
 */
export const REQUEST_ID = /^[\w.:-]{1,128}$/

/** Each route's template as a JSON string, made once: there are a few dozen routes. */
const routeJson = new Map<string, string>()

/**
 * The request line, as pino would write it (level, time, the logger's bindings, the fields, `msg`), built by
 * hand: every request writes one, and pino's generic serialisation took about 2 µs of the 25–30 µs a cheap
 * request costs. Only the route needs JSON escaping (once per route): request ids are REQUEST_ID's
 * characters, and methods are the tokens Node's HTTP parser accepts. Returns false when the destination
 * wants pino's own path (a multistream needs each line's level).
 */
function writeLineByHand(log: Logger, level: Level, line: RequestLine): boolean {
  const internals = log as unknown as Record<symbol, unknown>
  const stream = internals[streamSym] as { write(line: string): void } & Record<symbol, unknown>
  if (stream[needsMetadataGsym]) return false
  let route = routeJson.get(line.route)
  if (route === undefined) {
    route = JSON.stringify(line.route)
    routeJson.set(line.route, route)
  }
  stream.write(
    `{"level":${log.levels.values[level]},"time":${Date.now()}${internals[chindingsSym] as string},"reqId":"${line.reqId}","method":"${line.method}","route":${route},"status":${line.status},"durationMs":${line.durationMs},"msg":"request"}\n`,
  )
  return true
}

/**
 * Fastify makes a child logger (bound to the request id) for every request, and most requests never log
 * a line of their own: the child is made the first time something logs through it.
 */
export function lazyRequestLogger(
  logger: FastifyBaseLogger,
  bindings: Bindings,
  options: ChildLoggerOptions,
): FastifyBaseLogger {
  return new LazyRequestLogger(logger, bindings, options)
}

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
