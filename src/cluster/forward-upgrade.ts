/**
 * WebSocket upgrades for a session another replica owns. The upgrade request goes to the owner; once it
 * answers 101 the client's socket and the owner's are joined byte for byte, as node-http-proxy's WebSocket
 * pass does: frames, pings, close codes and compression stay the client's and the owner's business, and
 * each side's backpressure holds the other (a slow client slows the owner's socket, whose own pacing then
 * applies, src/api/backpressure.ts). An owner that refuses the upgrade (401, 404, 503) is answered as it
 * answered; one that cannot be reached is the caller's `OwnerUnreachableError`.
 *
 * A reply-from forward cannot do this: undici does not hand an upgraded socket back, and @fastify/http-proxy's
 * WebSocket support re-frames every message through a `ws` client and a server of its own beside
 * @fastify/websocket's.
 */
import { request as httpRequest, type IncomingMessage } from 'node:http'
import { request as httpsRequest } from 'node:https'
import type { Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import type { FastifyReply } from 'fastify'
import { OwnerUnreachableError, unreachableOwner } from './errors.js'

/** The owner's refusal of an upgrade is a short error document: more is not read. */
const MAX_REFUSAL_BYTES = 64 * 1024

/** Headers of the owner's answer that belong to its connection, not to the answer. */
const CONNECTION_HEADERS = new Set([
  'connection',
  'keep-alive',
  'transfer-encoding',
  'upgrade',
  'content-length',
])

export interface UpgradeForward {
  origin: string
  /** The upgrade request's headers as the owner gets them (Upgrade and Sec-WebSocket-* kept). */
  headers: Record<string, string | string[] | undefined>
  /** The time to connect and to get the owner's answer to the upgrade. */
  timeoutMs: number
  onUnreachable: (error: OwnerUnreachableError) => void
  /** The client sockets joined to an owner, until they close: the server's close ends them. */
  joined: Set<Duplex>
}

/** Forwards the upgrade request `reply` answers; the reply is hijacked once the owner has switched. */
export function forwardUpgrade(
  reply: FastifyReply,
  { origin, headers, timeoutMs, onUnreachable, joined }: UpgradeForward,
) {
  const { raw } = reply.request
  // The client sends no frame before the owner's 101 (RFC 6455, 4.1): nothing was read past the request.
  const client = raw.socket
  const request = (origin.startsWith('https:') ? httpsRequest : httpRequest)(`${origin}${raw.url}`, {
    method: 'GET',
    headers: { ...headers, connection: 'Upgrade', upgrade: 'websocket' },
    // A socket of its own: an upgraded connection never goes back to a pool.
    agent: false,
    timeout: timeoutMs,
  })
  let connected = false
  let settled = false
  const fail = (error: OwnerUnreachableError) => {
    if (settled) return
    settled = true
    request.destroy()
    onUnreachable(error)
  }
  request.on('socket', (socket) => socket.once('connect', () => (connected = true)))
  request.on('timeout', () =>
    fail(
      new OwnerUnreachableError(origin, 'timeout', connected, {
        cause: new Error(`No answer in ${timeoutMs} ms`),
      }),
    ),
  )
  request.on('error', (error) => fail(unreachableOwner(origin, error, connected)))
  // The client left before the owner answered.
  const abandon = () => {
    settled = true
    request.destroy()
  }
  client.once('close', abandon)

  request.on('upgrade', (answer: IncomingMessage, owner: Socket, head: Buffer) => {
    settled = true
    client.off('close', abandon)
    reply.hijack()
    owner.setTimeout(0)
    // Frames are small and each is awaited: sent at once, not gathered.
    owner.setNoDelay(true)
    client.write(statusLine(answer) + headerLines(answer.rawHeaders))
    if (head.length > 0) client.write(head)
    join(client, owner)
    joined.add(client)
    client.once('close', () => joined.delete(client))
  })
  // The owner refused the upgrade: its answer is relayed as it was given (Fastify then closes the socket).
  request.on('response', (answer: IncomingMessage) => {
    const chunks: Buffer[] = []
    let size = 0
    answer.on('data', (chunk: Buffer) => {
      size += chunk.length
      if (size <= MAX_REFUSAL_BYTES) chunks.push(chunk)
      else
        fail(
          new OwnerUnreachableError(origin, 'failed', true, {
            cause: new Error(`The owner's refusal of the upgrade exceeds ${MAX_REFUSAL_BYTES} bytes`),
          }),
        )
    })
    answer.on('end', () => {
      if (settled) return
      settled = true
      client.off('close', abandon)
      reply.code(answer.statusCode ?? 502)
      for (const [name, value] of Object.entries(answer.headers))
        if (value !== undefined && !CONNECTION_HEADERS.has(name)) reply.header(name, value)
      reply.send(Buffer.concat(chunks))
    })
  })
  request.end()
  return reply
}

/** Either side closing or failing closes the other. */
function join(client: Duplex, owner: Duplex): void {
  const close = () => {
    client.destroy()
    owner.destroy()
  }
  for (const socket of [client, owner]) {
    socket.on('error', close)
    socket.on('close', close)
  }
  owner.pipe(client)
  client.pipe(owner)
}

const statusLine = (answer: IncomingMessage) => `HTTP/1.1 ${answer.statusCode} ${answer.statusMessage}\r\n`

function headerLines(rawHeaders: string[]): string {
  let lines = ''
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) lines += `${rawHeaders[i]}: ${rawHeaders[i + 1]}\r\n`
  return `${lines}\r\n`
}
