/**
 * Which live session can continue a stateless OpenAI conversation. After each answer the gateway records
 * the key of the conversation as the client will send it back (history + answer); a request whose history
 * has that key continues that session with only its new input: no new process, no replay.
 * A key is taken on use: a second request with the same history (a branch) starts its own session.
 */
export class ConversationIndex {
  private readonly sessions = new Map<string, string>()

  constructor(private readonly capacity: number) {}

  remember(key: string, sessionId: string): void {
    this.sessions.delete(key)
    this.sessions.set(key, sessionId)
    // Map iteration is insertion order: the first key is the least recently recorded.
    if (this.sessions.size > this.capacity) this.sessions.delete(this.sessions.keys().next().value!)
  }

  take(key: string): string | undefined {
    const sessionId = this.sessions.get(key)
    if (sessionId !== undefined) this.sessions.delete(key)
    return sessionId
  }

  get size(): number {
    return this.sessions.size
  }
}
