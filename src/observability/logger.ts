import pino, { type Logger } from 'pino'

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent'

export interface LoggerOptions {
  level: LogLevel
  pretty: 'auto' | 'always' | 'never'
  /** Where lines go; stdout by default. Tests pass a stream to read them. */
  destination?: NodeJS.WritableStream
}

/**
 * Credentials that could reach a log line (request headers), never written whatever the level. Explicit
 * paths only: wildcard paths cost pino several microseconds per line, and the gateway logs no prompt,
 * content, configuration map or environment in the first place.
 */
export const REDACTED_PATHS = ['req.headers.authorization', 'req.headers["x-api-key"]', 'req.headers.cookie']

/** Structured JSON logs; human-readable when a person is watching (stdout is a TTY). */
export function createLogger(options: LoggerOptions): Logger {
  const pretty = options.pretty === 'always' || (options.pretty === 'auto' && process.stdout.isTTY === true)
  const base = { level: options.level, redact: { paths: REDACTED_PATHS, censor: '[redacted]' } }
  if (pretty && !options.destination) {
    return pino({
      ...base,
      transport: {
        target: 'pino-pretty',
        options: { translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' },
      },
    })
  }
  return pino(base, options.destination ?? pino.destination({ sync: false }))
}
