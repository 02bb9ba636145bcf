/**
 * What a Claude Code process writes on its standard error: each line a structured log line at `warn`
 * (`source: 'claude-cli'`, the process and the session it serves), and the end of it kept for the error of a
 * process that fails. Bounded, because a process in a loop may write without end: a line longer than
 * `maxLineChars` is cut (`cut: true`), and past `linesPerMinute` a process's lines are counted instead of
 * logged, the count logged before the next line that may be, or when the process ends. Credentials are
 * masked before anything is kept or logged (SecretMask).
 */
import type { Logger } from 'pino'
import { MASK, SECRET_NAME } from '../effective-config.js'

export interface StderrLimits {
  /** Lines of one process logged per minute; the rest are counted. */
  linesPerMinute: number
  /** A longer line is logged cut to this many characters. */
  maxLineChars: number
}

export const STDERR_LIMITS: StderrLimits = { linesPerMinute: 60, maxLineChars: 2_000 }

/** How much of the end of the output is kept for error messages. */
const TAIL_CHARS = 4_096
const WINDOW_MS = 60_000
/** Shorter values of secret-named variables are not searched for: they would mask ordinary words. */
const MIN_SECRET_CHARS = 8
/** Colours and cursor moves of a terminal (CSI sequences), and other control characters but the tab. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: these are what is removed
const CONTROL = /\u001b\[[0-9;?]*[ -/]*[@-~]|[\u0000-\u0008\u000b-\u001f\u007f]/g

/** Names a credential is given as a header, a flag or a setting. */
const CREDENTIAL_NAMES = 'x-api-key|api[_-]?key|(?:auth|access)[_-]?token|token|secret|password|authorization'

/** Credentials by their shape, whatever variable (or file, or flag) they came from. */
const SECRET_SHAPES: [RegExp, string][] = [
  // Anthropic API keys and OAuth tokens (sk-ant-api03-…, sk-ant-oat01-…).
  [/\bsk-ant-[\w-]{8,}/g, `sk-ant-${MASK}`],
  [/\b(Bearer|Basic)\s+[\w.~+/=-]{8,}/gi, `$1 ${MASK}`],
  // `x-api-key: …`, `apiKey=…`, `"token": "…"`, `password=…`.
  [new RegExp(`\\b((?:${CREDENTIAL_NAMES})["']?\\s*[:=]\\s*["']?)[^\\s"',;]{8,}`, 'gi'), `$1${MASK}`],
  // A password in a URL (a proxy's `http://user:pass@host`).
  [/\b([a-z][a-z\d+.-]*:\/\/[^\s:/@]+:)[^\s@/]+@/gi, `$1${MASK}@`],
]

/** Masks the credentials a process knows (its environment's secret-named values) and any shaped like one. */
export class SecretMask {
  private readonly values: string[]

  constructor(env: Record<string, string | undefined> = {}) {
    // Longest first: a value containing another is masked whole.
    this.values = Object.entries(env)
      .filter(([name, value]) => SECRET_NAME.test(name) && (value?.length ?? 0) >= MIN_SECRET_CHARS)
      .map(([, value]) => value as string)
      .sort((a, b) => b.length - a.length)
  }

  apply(text: string): string {
    let masked = text
    for (const value of this.values) masked = masked.replaceAll(value, MASK)
    for (const [shape, replacement] of SECRET_SHAPES) masked = masked.replace(shape, replacement)
    return masked
  }
}

/** Who wrote a line: the process, once started, and the runner and session it serves, once known. */
export type StderrContext = () => { cliPid?: number; runner?: string; session?: string }

export class CliStderr {
  private pending = ''
  /** The current line went past the length limit: its start was taken, the rest is dropped up to its end. */
  private dropping = false
  private tailText = ''
  private windowStart = Number.NEGATIVE_INFINITY
  private loggedInWindow = 0
  private suppressed = 0

  constructor(
    /** Null: the output is only kept for error messages (a benchmark's process). */
    private readonly log: Logger | null,
    private readonly mask: SecretMask,
    private readonly context: StderrContext,
    private readonly limits: StderrLimits = STDERR_LIMITS,
    private readonly now: () => number = Date.now,
  ) {}

  /** A chunk of the output as it came: complete lines are logged, a partial one waits for its end. */
  write(chunk: string): void {
    const lines = (this.pending + chunk).split('\n')
    this.pending = lines.pop() ?? ''
    for (const line of lines) {
      if (this.dropping) this.dropping = false
      else this.line(line)
    }
    if (this.dropping) this.pending = ''
    else if (this.pending.length > this.limits.maxLineChars) {
      this.line(this.pending)
      this.pending = ''
      this.dropping = true
    }
  }

  /** The process ended: its last partial line, and how many lines the rate limit held back. */
  end(): void {
    if (this.pending && !this.dropping) this.line(this.pending)
    this.pending = ''
    this.reportSuppressed()
  }

  /** The end of the output (masked, like every line), for the error of a process that failed. */
  tail(): string {
    const pending = this.dropping ? '' : this.mask.apply(this.pending.replace(CONTROL, ''))
    return `${this.tailText}${pending}`.slice(-TAIL_CHARS).trim()
  }

  private line(raw: string): void {
    const text = this.mask.apply(raw.replace(CONTROL, '')).trimEnd()
    const cut = text.length > this.limits.maxLineChars
    const line = cut ? text.slice(0, this.limits.maxLineChars) : text
    this.tailText = `${this.tailText}${line}\n`.slice(-TAIL_CHARS)
    if (!line.trim() || !this.log) return
    const at = this.now()
    if (at - this.windowStart >= WINDOW_MS) {
      this.reportSuppressed()
      this.windowStart = at
      this.loggedInWindow = 0
    }
    if (this.loggedInWindow >= this.limits.linesPerMinute) {
      this.suppressed++
      return
    }
    this.loggedInWindow++
    this.log.warn(
      { source: 'claude-cli', ...this.context(), line, ...(cut ? { cut } : {}) },
      'claude-cli stderr',
    )
  }

  private reportSuppressed(): void {
    if (this.suppressed === 0 || !this.log) return
    const { suppressed, limits } = this
    this.log.warn(
      { source: 'claude-cli', ...this.context(), suppressed },
      `claude-cli stderr: ${suppressed} more lines not logged (over ${limits.linesPerMinute} a minute)`,
    )
    this.suppressed = 0
  }
}
