import pino, { type Logger } from 'pino'

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent'

export interface LoggerOptions {
  level: LogLevel
  pretty: 'auto' | 'always' | 'never'
  /** Where lines go; stdout by default. Tests pass a stream to read them. */
  destination?: NodeJS.WritableStream
}

/**
 * Fastify logs its request and reply objects under `req` and `res` (a 5xx, a stream closed before its end):
 * a few fields each, and never the headers with their credentials.
 */
const serializers = {
  req: (request: { method?: string; url?: string }) => ({ method: request.method, url: request.url }),
  res: (reply: { statusCode?: number }) => ({ statusCode: reply.statusCode }),
}

/** Structured JSON logs; human-readable when a person is watching (stdout is a TTY). */
export function createLogger(options: LoggerOptions): Logger {
  const pretty = options.pretty === 'always' || (options.pretty === 'auto' && process.stdout.isTTY === true)
  const base = { level: options.level, serializers }
  if (pretty && !options.destination) {
    return pino({
      ...base,
      transport: {
        target: 'pino-pretty',
        options: { translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' },
      },
    })
  }
  // Asynchronous: lines logged while a write is under way go out together in the next one. pino writes
  // what waits synchronously when the process exits (process.exit() and uncaught exceptions included).
  return pino(base, options.destination ?? pino.destination({ dest: 1, sync: false }))
}
