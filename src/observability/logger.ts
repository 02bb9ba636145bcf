import pino, { type DestinationStream, type Logger } from 'pino'

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
  return pino(base, options.destination ?? new BatchedStdout())
}

/** Every stdout destination made, so that each one's last lines are written however the process exits. */
const unflushed = new Set<BatchedStdout>()
const flushAll = () => {
  for (const destination of unflushed) destination.flushSync()
}

/** The longest a line waits to be written, and the most bytes that wait before they are written at once. */
const FLUSH_AFTER_MS = 10
const BATCH_BYTES = 64 * 1024
/** A UTF-16 code unit never takes more than three bytes in UTF-8. */
const MAX_UTF8_BYTES_PER_UNIT = 3

/**
 * Standard output, written in batches: the lines logged within 10 ms (a request line per request at
 * thousands of requests a second) are copied into one buffer and written by one synchronous write. One
 * write per line costs a system call each, and pino's asynchronous destination measures its whole pending
 * buffer again for every line it appends: both were most of what a request line cost. Lines are copied
 * at once rather than kept as strings, so a line's string dies young instead of outliving a few
 * minor garbage collections into the old generation.
 *
 * `fatal` lines and process exit (also on an uncaught exception or `process.exit()`) write what waits at
 * once, so no line is lost unless the process is killed outright.
 */
export class BatchedStdout implements DestinationStream {
  // pino's own synchronous destination: it retries a full pipe and stops writing to a closed one (EPIPE).
  readonly #stdout: ReturnType<typeof pino.destination>
  #batch: Buffer | null = null
  #used = 0
  #timer: NodeJS.Timeout | null = null
  readonly #flushLater = () => this.flushSync()

  /** `fd`: standard output unless a test gives another file. */
  constructor(fd = 1) {
    this.#stdout = pino.destination({ dest: fd, sync: true, contentMode: 'buffer' })
    if (unflushed.size === 0) process.on('exit', flushAll)
    unflushed.add(this)
  }

  write(line: string): void {
    const most = line.length * MAX_UTF8_BYTES_PER_UNIT
    if (most > BATCH_BYTES) {
      this.flushSync()
      this.#stdout.write(Buffer.from(line) as unknown as string)
      return
    }
    const batch = this.reserve(most)
    this.#used += batch.write(line, this.#used)
  }

  /**
   * Room for `bytes` more in the batch (what waits is written first when they would not fit): the batch's
   * buffer, to be filled from `used` on and handed back with `commit`. The request line is written this
   * way, without making a string (src/observability/request-line.ts). `bytes` is at most BATCH_BYTES.
   */
  reserve(bytes: number): Buffer {
    if (this.#batch && bytes > BATCH_BYTES - this.#used) this.flushSync()
    if (!this.#batch) {
      // A fresh buffer per batch: the one written last is the destination's until its write completes.
      this.#batch = Buffer.allocUnsafe(BATCH_BYTES)
      this.#timer = setTimeout(this.#flushLater, FLUSH_AFTER_MS)
    }
    return this.#batch
  }

  /** Where the reserved room starts. */
  get used(): number {
    return this.#used
  }

  /** The batch now ends at `end`: what was put in the reserved room is part of it. */
  commit(end: number): void {
    this.#used = end
  }

  /** Writes what waits now (pino calls it after a `fatal` line). */
  flushSync(): void {
    if (this.#timer) clearTimeout(this.#timer)
    this.#timer = null
    const batch = this.#batch
    if (!batch) return
    this.#batch = null
    this.#stdout.write(batch.subarray(0, this.#used) as unknown as string)
    this.#used = 0
  }
}
