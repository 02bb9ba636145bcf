import pino, { type Logger } from 'pino'
import { BatchedStdout } from './logger.js'

/** Writes one request line; see `requestLineWriter`. */
export type RequestLineWriter = (
  level: number,
  reqId: string,
  method: string,
  route: string,
  status: number,
  /** The duration in hundredths of a millisecond, an integer: the line says `durationMs` to two decimals. */
  hundredths: number,
  aborted: boolean,
) => void

const { chindingsSym, streamSym } = pino.symbols

const utf8 = (text: string) => Buffer.from(text)
const METHOD = utf8('","method":"')
const DURATION = utf8(',"durationMs":')
const ABORTED = utf8(',"aborted":true')
const END = utf8(',"msg":"request"}\n')
const ZERO = 48
const DOT = 46
/** The most the numbers take: time (13 digits, until the year 2286), status and duration. */
const NUMBER_BYTES = 3 * 16

/**
 * The request line, as pino would write it (level, time, the logger's bindings, the fields, `msg`), put
 * byte by byte into the gateway's batched standard output: every request writes one. pino's generic
 * serialisation took about 2 µs of the 25–30 µs a cheap request costs, and a line joined as a string
 * still cost ~0.6 µs to flatten and encode. The fixed parts are encoded once, with the logger's bindings
 * and each route's JSON in them. The other text needs no escaping: request ids are REQUEST_ID's
 * characters, and methods are the tokens Node's HTTP parser accepts.
 *
 * Null when `log` writes somewhere else (a test's stream, pino-pretty): pino's own path is used then.
 */
export function requestLineWriter(log: Logger): RequestLineWriter | null {
  const internals = log as unknown as Record<symbol, unknown>
  const out = internals[streamSym]
  if (!(out instanceof BatchedStdout)) return null
  // The bindings (pid, hostname, and the logger's own) do not change: the gateway never rebinds its logger.
  const bindingsAndId = utf8(`${internals[chindingsSym] as string},"reqId":"`)
  const levelParts = new Map<number, Buffer>()
  const routeParts = new Map<string, Buffer>()
  const fixedBytes =
    '{"level":60,"time":'.length +
    bindingsAndId.length +
    METHOD.length +
    DURATION.length +
    ABORTED.length +
    END.length +
    NUMBER_BYTES

  return (level, reqId, method, route, status, hundredths, aborted) => {
    let levelPart = levelParts.get(level)
    if (levelPart === undefined) {
      levelPart = utf8(`{"level":${level},"time":`)
      levelParts.set(level, levelPart)
    }
    let routePart = routeParts.get(route)
    if (routePart === undefined) {
      routePart = utf8(`","route":${JSON.stringify(route)},"status":`)
      routeParts.set(route, routePart)
    }
    const buffer = out.reserve(fixedBytes + reqId.length + method.length + routePart.length)
    let at = copy(buffer, out.used, levelPart)
    at = time(buffer, at, Date.now())
    at = copy(buffer, at, bindingsAndId)
    at = ascii(buffer, at, reqId)
    at = copy(buffer, at, METHOD)
    at = ascii(buffer, at, method)
    at = copy(buffer, at, routePart)
    at = digits(buffer, at, status)
    at = copy(buffer, at, DURATION)
    at = hundredthsOf(buffer, at, hundredths)
    if (aborted) at = copy(buffer, at, ABORTED)
    out.commit(copy(buffer, at, END))
  }
}

function copy(buffer: Buffer, at: number, part: Buffer): number {
  buffer.set(part, at)
  return at + part.length
}

function ascii(buffer: Buffer, at: number, text: string): number {
  for (let i = 0; i < text.length; i++) buffer[at + i] = text.charCodeAt(i)
  return at + text.length
}

/**
 * A time in milliseconds, in two parts that are small integers: digit arithmetic on a number beyond
 * 2^31 is floating point, and its remainder a call into C, ~30 ns a digit.
 */
function time(buffer: Buffer, at: number, milliseconds: number): number {
  const high = Math.floor(milliseconds / 1e8)
  return padded(buffer, digits(buffer, at, high), milliseconds - high * 1e8, 8)
}

/** The decimal digits of an integer in [0, 2^31). */
function digits(buffer: Buffer, at: number, value: number): number {
  let width = 1
  for (let rest = value; rest >= 10; rest = (rest / 10) | 0) width++
  return padded(buffer, at, value, width)
}

/** The last `width` decimal digits of an integer in [0, 2^31), with leading zeros. */
function padded(buffer: Buffer, at: number, value: number, width: number): number {
  let rest = value
  for (let i = at + width - 1; i >= at; i--) {
    const next = (rest / 10) | 0
    buffer[i] = ZERO + rest - next * 10
    rest = next
  }
  return at + width
}

/** `hundredths / 100` as JavaScript prints it: 1234 → 12.34, 1230 → 12.3, 1200 → 12, 5 → 0.05. */
function hundredthsOf(buffer: Buffer, at: number, hundredths: number): number {
  const whole = Math.floor(hundredths / 100)
  const fraction = hundredths - whole * 100
  let end = digits(buffer, at, whole)
  if (fraction === 0) return end
  buffer[end++] = DOT
  buffer[end++] = ZERO + ((fraction / 10) | 0)
  if (fraction % 10 !== 0) buffer[end++] = ZERO + (fraction % 10)
  return end
}
