/**
 * Limits on what a client's JSON may be, applied where it enters the gateway (request bodies, WebSocket
 * messages, JSON carried in strings such as function-call arguments). Whatever holds a parsed body later
 * (schema checks, the event bus, the store, the Agent SDK) serialises it with recursive code: a document
 * nested a few thousand levels deep overflows the stack there, far from the request that brought it.
 */
import type { FastifyBodyParser, FastifyInstance } from 'fastify'

/** A JSON text nested deeper than the configured limit (`server.maxJsonDepth`): a 400 in both APIs. */
export class JsonTooDeepError extends Error {
  readonly code = 'CCGW_JSON_TOO_DEEP'
  readonly statusCode = 400

  constructor(readonly limit: number) {
    super(`The JSON is nested deeper than ${limit} levels (server.maxJsonDepth)`)
    this.name = 'JsonTooDeepError'
  }
}

const QUOTE = 0x22
const BACKSLASH = 0x5c
const OPEN_BRACE = 0x7b
const CLOSE_BRACE = 0x7d
const OPEN_BRACKET = 0x5b
const CLOSE_BRACKET = 0x5d

/**
 * Whether a JSON text nests objects and arrays more than `limit` deep. One pass over the text, without
 * recursion and before anything is parsed, so a hostile document is refused before it is built. Strings
 * are skipped with `indexOf` (a base64 image is most of a large body). Text that is not JSON may be
 * miscounted: the parser that follows refuses it anyway.
 */
export function jsonNestingExceeds(text: string, limit: number): boolean {
  // Each level takes at least one character: a text no longer than the limit cannot exceed it.
  if (text.length <= limit) return false
  let depth = 0
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c === QUOTE) {
      let end = text.indexOf('"', i + 1)
      while (end !== -1 && isEscaped(text, end)) end = text.indexOf('"', end + 1)
      if (end === -1) return false
      i = end
    } else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      if (++depth > limit) return true
    } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
      depth--
    }
  }
  return false
}

/** A quote is escaped when an odd number of backslashes precede it. */
function isEscaped(text: string, quote: number): boolean {
  let backslashes = 0
  for (let i = quote - 1; i >= 0 && text.charCodeAt(i) === BACKSLASH; i--) backslashes++
  return backslashes % 2 === 1
}

/** `JSON.parse` of a client's text, refusing it first when it nests deeper than `limit`. */
export function parseLimitedJson(text: string, limit: number): unknown {
  if (jsonNestingExceeds(text, limit)) throw new JsonTooDeepError(limit)
  return JSON.parse(text)
}

/**
 * Fastify's own JSON body parser (secure-json-parse, refusing `__proto__` and `constructor.prototype` as
 * Fastify does by default) behind the nesting limit. `maxDepth` is read per request: it applies on reload.
 */
export function limitedJsonBodyParser(
  app: FastifyInstance,
  maxDepth: () => number,
): FastifyBodyParser<string> {
  const parse = app.getDefaultJsonParser('error', 'error')
  return (request, body, done) => {
    const limit = maxDepth()
    if (jsonNestingExceeds(body, limit)) {
      done(new JsonTooDeepError(limit), undefined)
      return
    }
    parse(request, body, done)
  }
}
