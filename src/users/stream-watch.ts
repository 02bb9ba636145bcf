/**
 * A revoked key must not keep an open stream: an SSE subscription, a WebSocket or a streamed chat completion
 * opened with it would otherwise go on for hours. Every request made with a store key is watched while it is
 * open (`track`, from the /api and /v1 key hooks: one place, not every route). When a key is revoked, or its
 * user removed or given another role, on this replica (directory.ts), its streams end at once; a periodic
 * check (every `users.keyCacheMs`, at least a second) finds keys revoked, expired, whose user went away or
 * whose user's role changed elsewhere (or in a reloaded configuration): a stream keeps the role it opened with.
 * SSE and HTTP streams are ended (their socket destroyed when ending does not finish soon); WebSockets are
 * closed with 1008, policy violation. Requests that are not streams finish as they would.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { Logger } from 'pino'
import type { WebSocket, WebSocketServer } from 'ws'
import type { AccessStore, UserRole } from '../store/access.js'
import { GONE_REASONS, type UserDirectory } from './directory.js'
import { keyState } from './keys.js'

interface Watched {
  keyId: string
  user: string
  /** The role the stream was opened with. */
  role: UserRole
  raw: ServerResponse
  request: FastifyRequest
  /** The WebSocket, once the request became one. */
  socket: WebSocket | null
  ending: boolean
}

/** The WebSocket close code for "the key that opened this is no longer valid". */
export const KEY_REVOKED_CLOSE = 1008
/** How long a stream may take to end before its connection is cut. */
const END_GRACE_MS = 1_000
const MIN_CHECK_MS = 1_000

export class StreamWatch {
  private readonly byKey = new Map<string, Set<Watched>>()
  private readonly byRequest = new WeakMap<IncomingMessage, Watched>()
  /** WebSocket servers already told to report their connections here. */
  private readonly servers = new WeakSet<WebSocketServer>()
  private timer: NodeJS.Timeout | null = null
  private intervalMs = 0
  private checking = false
  private closed = false

  constructor(
    private readonly access: Pick<AccessStore, 'getUser' | 'listKeys'>,
    private readonly directory: Pick<UserDirectory, 'declared' | 'forgetKey' | 'onKeysGone'>,
    private readonly log: Logger,
    keyCacheMs: number,
    private readonly now: () => number = Date.now,
  ) {
    directory.onKeysGone((keyIds, reason) => this.endKeys(keyIds, reason))
    this.reconfigure(keyCacheMs)
  }

  /** Watches a request while it is open, if a store key authenticated it (configured keys are not revoked here). */
  track(request: FastifyRequest, reply: FastifyReply): void {
    const { keyId, id: user, role } = request.principal
    if (keyId === null || user === null || this.closed) return
    const watched: Watched = { keyId, user, role, raw: reply.raw, request, socket: null, ending: false }
    const set = this.byKey.get(keyId) ?? new Set()
    this.byKey.set(keyId, set.add(watched))
    this.byRequest.set(request.raw, watched)
    // A WebSocket route's instance has the server its sockets come from (@fastify/websocket decorates it);
    // its `connection` event names the request a socket was upgraded from.
    const server = (request.server as { websocketServer?: WebSocketServer }).websocketServer
    if (server && !this.servers.has(server)) {
      this.servers.add(server)
      server.on('connection', (socket: WebSocket, raw: IncomingMessage) => this.upgraded(socket, raw))
    }
    reply.raw.once('close', () => this.untrack(watched))
  }

  /** Ends the open streams of these keys now. */
  endKeys(keyIds: readonly string[], reason: string): void {
    for (const keyId of keyIds) for (const watched of this.byKey.get(keyId) ?? []) this.end(watched, reason)
  }

  /** The check's period follows `users.keyCacheMs`: the longest another replica trusts a revoked key too. */
  reconfigure(keyCacheMs: number): void {
    const intervalMs = Math.max(MIN_CHECK_MS, keyCacheMs)
    if (this.closed || intervalMs === this.intervalMs) return
    this.intervalMs = intervalMs
    if (this.timer) clearInterval(this.timer)
    this.timer = setInterval(() => void this.check(), intervalMs)
    this.timer.unref()
  }

  /** Stops checking and ends every stream still watched (the gateway stops). */
  close(): void {
    this.closed = true
    if (this.timer) clearInterval(this.timer)
    this.timer = null
    this.endKeys([...this.byKey.keys()], 'shutting_down: the gateway is stopping')
  }

  /** How many requests are watched now (tests, metrics). */
  get size(): number {
    let size = 0
    for (const set of this.byKey.values()) size += set.size
    return size
  }

  /**
   * Asks the store about every key with an open stream: revoked, expired, removed, its user gone or given
   * another role (on any replica) ends them. One read of a user and their keys per user, whatever number of
   * streams. A key's role is its user's as declared in the configuration, else as kept (directory.ts).
   */
  async check(): Promise<void> {
    if (this.checking || this.byKey.size === 0) return
    this.checking = true
    try {
      const byUser = new Map<string, Watched[]>()
      for (const set of this.byKey.values())
        for (const watched of set) byUser.set(watched.user, [...(byUser.get(watched.user) ?? []), watched])
      for (const [user, watchedOfUser] of byUser) {
        const role = (this.directory.declared(user) ?? (await this.access.getUser(user)))?.role
        const keys = role === undefined ? [] : await this.access.listKeys(user)
        const now = this.now()
        for (const watched of watchedOfUser) {
          const key = keys.find((candidate) => candidate.id === watched.keyId)
          if (!key || keyState(key, now) !== 'active') {
            this.directory.forgetKey(watched.keyId)
            this.end(watched, 'key_revoked: the API key was revoked or expired')
          } else if (watched.role !== role) this.end(watched, GONE_REASONS.roleChanged)
        }
      }
    } catch (err) {
      // The store is unreachable: the streams stay until it answers (the keys' own cache lapses meanwhile).
      this.log.warn({ err }, 'could not check the keys of open streams')
    } finally {
      this.checking = false
    }
  }

  private upgraded(socket: WebSocket, raw: IncomingMessage): void {
    const watched = this.byRequest.get(raw)
    if (!watched) return
    watched.socket = socket
    socket.once('close', () => this.untrack(watched))
    // Revoked between the key check and the upgrade.
    if (watched.ending) this.closeSocket(socket, 'key_revoked: the API key was revoked')
  }

  private untrack(watched: Watched): void {
    const set = this.byKey.get(watched.keyId)
    if (!set?.delete(watched)) return
    if (set.size === 0) this.byKey.delete(watched.keyId)
  }

  /**
   * Ends one stream: a WebSocket is closed, an SSE or streamed HTTP answer ended. A request that is not a
   * stream (yet) is left to finish: the revoking request itself, or an answer being written; the periodic
   * check ends it should it become one.
   */
  private end(watched: Watched, reason: string): void {
    if (watched.socket) {
      watched.ending = true
      this.closeSocket(watched.socket, reason)
      return
    }
    const isStream = watched.request.ccgw?.streamed === true
    const isUpgrade = watched.request.headers.upgrade?.toLowerCase() === 'websocket'
    if (isUpgrade) watched.ending = true
    if (!isStream || watched.ending) return
    watched.ending = true
    const { raw } = watched
    if (raw.destroyed || raw.writableEnded) return
    this.log.info({ keyId: watched.keyId, user: watched.user }, 'ending a stream: %s', reason)
    // The stream's writer may still write before it sees the end: that write fails quietly, not the process.
    raw.on('error', () => {})
    try {
      raw.end()
    } catch {
      raw.destroy()
      return
    }
    setTimeout(() => {
      if (!raw.closed) raw.destroy()
    }, END_GRACE_MS).unref()
  }

  private closeSocket(socket: WebSocket, reason: string): void {
    if (socket.readyState === socket.CLOSED || socket.readyState === socket.CLOSING) return
    this.log.info('closing a WebSocket: %s', reason)
    // A close reason is at most 123 bytes.
    socket.close(KEY_REVOKED_CLOSE, reason.slice(0, 120))
    setTimeout(() => {
      if (socket.readyState !== socket.CLOSED) socket.terminate()
    }, END_GRACE_MS).unref()
  }
}
