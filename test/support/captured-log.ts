import { Writable } from 'node:stream'
import pino, { type Level, type Logger } from 'pino'

/** A pino line as parsed back: its level (a number: 30 info, 40 warn, 50 error) and message, and any field. */
export interface LogLine {
  level: number
  msg: string
  [field: string]: unknown
}

/** A stream a logger writes JSON lines to, each parsed into `lines` as it is written. */
export function parsedLines<Line = LogLine>(lines: Line[]): Writable {
  return new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line) as Line)
      done()
    },
  })
}

/** A logger whose lines (at `level` and above) the test reads back, parsed, as they are written. */
export function capturedLog(level: Level = 'debug'): { log: Logger; lines: LogLine[] } {
  const lines: LogLine[] = []
  return { log: pino({ level }, parsedLines(lines)), lines }
}
