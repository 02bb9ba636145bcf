import { type FastifyBaseLogger, type FastifyReply, type FastifyRequest, LogController } from 'fastify'
import type { Bindings, ChildLoggerOptions } from 'pino'

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
    const level = status >= 500 ? 'error' : (request.routeOptions.config.requestLogLevel ?? 'info')
    const log = request.server.log
    if (!(log as FastifyBaseLogger & { isLevelEnabled(level: string): boolean }).isLevelEnabled(level)) return
    const line = {
      [this.requestIdLogLabel]: request.id,
      method: request.method,
      route: request.routeOptions.url ?? 'unmatched',
      status,
      durationMs: Math.round(reply.elapsedTime * 100) / 100,
      ...(error ? { err: error } : {}),
    }
    log[level](line, 'request')
  }
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

type Level = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace'
