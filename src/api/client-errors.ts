/**
 * Requests Node's HTTP parser refuses before Fastify sees them: a CR or LF inside a header value, a control
 * byte in a header, headers over Node's size limit, a request that took too long to arrive. Fastify's own
 * answer has Fastify's error shape; this one has the API's: OpenAI's under /v1, the native one elsewhere,
 * with a request id like every other answer.
 */
import { STATUS_CODES } from 'node:http'
import type { Socket } from 'node:net'
import type { Logger } from 'pino'
import { ApiError } from './native/errors.js'
import { OpenAIError } from './openai/errors.js'

interface ParserError extends Error {
  code?: string
  /** The bytes Node had read when parsing failed: a Buffer, from the request line on for a first request. */
  rawPacket?: unknown
}

/** Makes a request id from the gateway's sequence; the request's own `x-request-id` may be what is broken. */
interface RequestIds {
  genReqId?: (raw: never) => string
}

export function answerClientError(
  error: ParserError,
  socket: Socket,
  ids: RequestIds,
  log: Pick<Logger, 'debug'>,
): void {
  // The client is gone (Node's own behaviour): nothing to answer.
  if (error.code === 'ECONNRESET' || socket.destroyed) return
  const refusal = describe(error)
  const { status, code, message } = refusal
  const requestId = ids.genReqId?.({ headers: {} } as never) ?? ''
  log.debug({ err: error, reqId: requestId, status }, 'malformed HTTP request refused')
  if (socket.writable) {
    const body = JSON.stringify(
      isOpenAIPath(requestPath(error.rawPacket))
        ? new OpenAIError(status, message, 'invalid_request_error', null, code).body
        : refusal.body,
    )
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\n` +
        'Content-Type: application/json; charset=utf-8\r\n' +
        `Content-Length: ${Buffer.byteLength(body)}\r\n` +
        `X-Request-Id: ${requestId}\r\n` +
        // The parser cannot resume mid-stream: the connection ends after this answer.
        'Connection: close\r\n\r\n' +
        body,
    )
  }
  socket.destroy(error)
}

/** The parser's refusal as a native error; the OpenAI shape is made from the same status, code and message. */
function describe(error: ParserError): ApiError {
  switch (error.code) {
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return new ApiError('request_timeout', 'The request was not received in time (server.requestTimeoutMs)')
    case 'HPE_HEADER_OVERFLOW':
      return new ApiError('headers_too_large', 'The request headers are too large')
    default: {
      // llhttp's reason, such as "Invalid header value char": says which rule the request broke.
      const reason = error.message.replace(/^Parse Error: /, '')
      return new ApiError('bad_request', `The request is not valid HTTP: ${reason}`)
    }
  }
}

/** The path of the request line in what Node had read, if it is there (absolute-form URLs included). */
function requestPath(rawPacket: unknown): string | null {
  if (!Buffer.isBuffer(rawPacket)) return null
  const line = /^[A-Z]+ (\S+)/.exec(rawPacket.toString('latin1', 0, Math.min(rawPacket.length, 8192)))
  if (!line) return null
  const target = line[1]!
  return target.startsWith('/') ? target : (/^[a-z]+:\/\/[^/]*(\/\S*)?$/i.exec(target)?.[1] ?? null)
}

/** As the routes are split: the OpenAI API is everything under /v1 (src/server.ts). */
const isOpenAIPath = (path: string | null) => path === '/v1' || path?.startsWith('/v1/') === true
