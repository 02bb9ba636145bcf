/**
 * HTTP/1.1 requests written byte for byte on a socket. fetch and node:http refuse to send what a fuzzer
 * must send (`..` segments kept as they are, raw UTF-8 in the path, a body that contradicts its
 * Content-Type, no Content-Type at all), and both normalise the URL; this client sends what it is given.
 * One connection per request (`Connection: close`), so a response ends when the server closes.
 */
import { connect } from 'node:net'

export interface RawRequest {
  method: string
  /** Path and query as they go on the request line: not encoded, not normalised. */
  target: string
  /** Header lines in order; Host, Connection and Content-Length are added unless given. */
  headers?: [string, string][]
  body?: Buffer | string
}

export interface RawResponse {
  status: number
  /** Lower-case names; a repeated header's values joined with ", ". */
  headers: Record<string, string>
  /** Decoded from chunked transfer coding; empty when `headersOnly` stopped the read. */
  body: Buffer
  /** The read stopped at the headers (a stream that would not end: SSE, an upgraded socket). */
  cut: boolean
}

export interface RawOptions {
  /** Stop reading at the headers when this says so (the connection is then destroyed). */
  headersOnly?: (status: number, headers: Record<string, string>) => boolean
  timeoutMs: number
}

/** Sends `request` to `url`'s host and port and reads the whole answer (or its headers, see RawOptions). */
export function rawRequest(url: string, request: RawRequest, options: RawOptions): Promise<RawResponse> {
  const { hostname, port } = new URL(url)
  const body = typeof request.body === 'string' ? Buffer.from(request.body, 'utf8') : request.body
  const headers = [...(request.headers ?? [])]
  const has = (name: string) => headers.some(([key]) => key.toLowerCase() === name)
  if (!has('host')) headers.unshift(['Host', `${hostname}:${port}`])
  if (!has('connection')) headers.push(['Connection', 'close'])
  if (body !== undefined && !has('content-length') && !has('transfer-encoding'))
    headers.push(['Content-Length', String(body.length)])
  const head = `${request.method} ${request.target} HTTP/1.1\r\n${headers
    .map(([key, value]) => `${key}: ${value}\r\n`)
    .join('')}\r\n`

  return new Promise((resolve, reject) => {
    const socket = connect({ host: hostname, port: Number(port) })
    const chunks: Buffer[] = []
    let settled = false
    const finish = (outcome: () => RawResponse) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      socket.destroy()
      try {
        resolve(outcome())
      } catch (error) {
        reject(error)
      }
    }
    const fail = (error: Error) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      socket.destroy()
      reject(error)
    }
    const timer = setTimeout(
      () => fail(new Error(`no complete answer within ${options.timeoutMs} ms`)),
      options.timeoutMs,
    )
    socket.on('connect', () => {
      socket.write(Buffer.from(head, 'utf8'))
      if (body !== undefined) socket.write(body)
    })
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk)
      const received = withoutInterim(Buffer.concat(chunks))
      const end = received.indexOf('\r\n\r\n')
      if (end < 0) return
      const parsed = parseHead(received.subarray(0, end).toString('latin1'))
      if (options.headersOnly?.(parsed.status, parsed.headers))
        finish(() => ({ ...parsed, body: Buffer.alloc(0), cut: true }))
      // A server may keep the connection open after a complete answer (one to an upgrade request that it
      // refused keeps `Connection: keep-alive`): the answer ends where its framing says.
      else if (isComplete(request.method, parsed, received.subarray(end + 4)))
        finish(() => parseResponse(received))
    })
    // The server may close while a large body is still being written (a 413 answered early): what it
    // answered is still in `chunks`.
    socket.on('error', (error) => {
      if (chunks.length === 0) fail(error)
      else finish(() => parseResponse(Buffer.concat(chunks)))
    })
    socket.on('end', () => finish(() => parseResponse(Buffer.concat(chunks))))
  })
}

function parseHead(text: string): { status: number; headers: Record<string, string> } {
  const [statusLine = '', ...lines] = text.split('\r\n')
  const match = /^HTTP\/1\.[01] (\d{3})/.exec(statusLine)
  if (!match) throw new Error(`not an HTTP response: ${JSON.stringify(statusLine.slice(0, 200))}`)
  const headers: Record<string, string> = {}
  for (const line of lines) {
    const colon = line.indexOf(':')
    if (colon <= 0) continue
    const name = line.slice(0, colon).trim().toLowerCase()
    const value = line.slice(colon + 1).trim()
    headers[name] = name in headers ? `${headers[name]}, ${value}` : value
  }
  return { status: Number(match[1]), headers }
}

/** The response without the `100 Continue` answers an `Expect: 100-continue` request gets first. */
function withoutInterim(raw: Buffer): Buffer {
  let rest = raw
  while (/^HTTP\/1\.[01] 1(?!01)\d\d/.test(rest.subarray(0, 12).toString('latin1'))) {
    const end = rest.indexOf('\r\n\r\n')
    if (end < 0) break
    rest = rest.subarray(end + 4)
  }
  return rest
}

function parseResponse(whole: Buffer): RawResponse {
  const raw = withoutInterim(whole)
  const end = raw.indexOf('\r\n\r\n')
  if (end < 0) throw new Error(`incomplete HTTP response (${raw.length} bytes, no end of headers)`)
  const head = parseHead(raw.subarray(0, end).toString('latin1'))
  let body = raw.subarray(end + 4)
  if (/\bchunked\b/i.test(head.headers['transfer-encoding'] ?? '')) body = dechunk(body)
  else if (head.headers['content-length'] !== undefined)
    body = body.subarray(0, Number(head.headers['content-length']))
  return { ...head, body, cut: false }
}

function isComplete(
  method: string,
  { status, headers }: { status: number; headers: Record<string, string> },
  body: Buffer,
): boolean {
  if (method === 'HEAD' || status === 204 || status === 304) return true
  if (/\bchunked\b/i.test(headers['transfer-encoding'] ?? '')) return chunkedEnd(body) >= 0
  const length = headers['content-length']
  return length !== undefined && body.length >= Number(length)
}

/** Where the last chunk of a chunked body ends, or -1 while it has not arrived. */
function chunkedEnd(raw: Buffer): number {
  let at = 0
  for (;;) {
    const lineEnd = raw.indexOf('\r\n', at)
    if (lineEnd < 0) return -1
    const size = Number.parseInt(raw.subarray(at, lineEnd).toString('latin1'), 16)
    if (!Number.isFinite(size)) return -1
    if (size === 0) {
      const end = raw.indexOf('\r\n\r\n', lineEnd)
      return end < 0 ? -1 : end + 4
    }
    at = lineEnd + 2 + size + 2
    if (at > raw.length) return -1
  }
}

function dechunk(raw: Buffer): Buffer {
  const parts: Buffer[] = []
  let at = 0
  for (;;) {
    const lineEnd = raw.indexOf('\r\n', at)
    if (lineEnd < 0) break
    const size = Number.parseInt(raw.subarray(at, lineEnd).toString('latin1'), 16)
    if (!Number.isFinite(size) || size === 0) break
    parts.push(raw.subarray(lineEnd + 2, lineEnd + 2 + size))
    at = lineEnd + 2 + size + 2
  }
  return Buffer.concat(parts)
}
