/**
 * Which live session can continue a stateless OpenAI conversation. After each answer the gateway records
 * the key of the conversation as the client will send it back (history + answer); a request whose history
 * has that key continues that session with only its new input: no new process, no replay.
 * A key is taken on use: a second request with the same history (a branch) starts its own session.
 *
 * A gateway alone keeps the keys in memory (`ConversationIndex`); replicas share them in Redis
 * (`SharedConversations`), so that a follow-up reaching any replica finds its session, and is forwarded to
 * the replica running it.
 */
import type { Logger } from 'pino'

export interface Conversations {
  remember(key: string, sessionId: string): Promise<void>
  /** The session this history continues, left for whoever continues it (a replica forwarding the request). */
  peek(key: string): Promise<string | undefined>
  /** The session this history continues, taken: no other request continues it with the same history. */
  take(key: string): Promise<string | undefined>
}

/** The keys of one gateway, in memory: the `capacity` most recently recorded. */
export class ConversationIndex implements Conversations {
  private readonly sessions = new Map<string, string>()

  constructor(private readonly capacity: number) {}

  async remember(key: string, sessionId: string): Promise<void> {
    this.sessions.delete(key)
    this.sessions.set(key, sessionId)
    // Map iteration is insertion order: the first key is the least recently recorded.
    if (this.sessions.size > this.capacity) this.sessions.delete(this.sessions.keys().next().value!)
  }

  async peek(key: string): Promise<string | undefined> {
    return this.sessions.get(key)
  }

  async take(key: string): Promise<string | undefined> {
    const sessionId = this.sessions.get(key)
    if (sessionId !== undefined) this.sessions.delete(key)
    return sessionId
  }

  get size(): number {
    return this.sessions.size
  }
}

/** What `SharedConversations` uses of a node-redis client. */
export interface KeyValueClient {
  set(key: string, value: string, options: { PX: number }): Promise<unknown>
  get(key: string): Promise<string | null>
  getDel(key: string): Promise<string | null>
}

/**
 * The keys every replica shares, in Redis, each kept `ttlMs` (`cluster.conversationTtlMs`). Redis failing
 * costs speed, not answers: a key not recorded or not found starts a new session from the history the
 * client sent, as for a conversation never seen. Taking is one GETDEL, so two replicas never both take a key.
 */
export class SharedConversations implements Conversations {
  constructor(
    private readonly client: KeyValueClient,
    private readonly prefix: string,
    private readonly ttlMs: number,
    private readonly log: Logger,
  ) {}

  async remember(key: string, sessionId: string): Promise<void> {
    await this.client
      .set(this.name(key), sessionId, { PX: this.ttlMs })
      .catch((err: unknown) => this.log.warn({ err }, 'a conversation could not be recorded in Redis'))
  }

  async peek(key: string): Promise<string | undefined> {
    return this.read(() => this.client.get(this.name(key)))
  }

  async take(key: string): Promise<string | undefined> {
    return this.read(() => this.client.getDel(this.name(key)))
  }

  private async read(call: () => Promise<string | null>): Promise<string | undefined> {
    try {
      return (await call()) ?? undefined
    } catch (err) {
      this.log.warn({ err }, 'conversations cannot be read from Redis; the request starts a new session')
      return undefined
    }
  }

  private name(key: string): string {
    return `${this.prefix}conversation:${key}`
  }
}
