/**
 * The events of src/events/types.ts as the streams carry them (camelCase), mirrored by hand: only the fields
 * the UI uses are spelled out; events keep any other field as `unknown`.
 */
import type { SessionState } from './sessions.js'

/** Token counts inside events (src/events/types.ts `TokenUsage`). */
export interface TokenUsage {
  inputTokens: number
  outputTokens: number
  cacheReadInputTokens: number
  cacheCreationInputTokens: number
  thinkingTokens: number
}

export type ContentBlock = { type: string; [key: string]: unknown }

/** The body of each event type: src/events/types.ts `EventBody`. */
export type EventBody =
  | { type: 'session.state'; state: SessionState; previous: SessionState; reason?: string }
  | { type: 'session.ready'; claudeSessionId: string; model: string; cwd: string; tools: string[] }
  | { type: 'session.created'; title: string | null; workspace: string; agent: string | null }
  | { type: 'session.deleted' }
  | { type: 'conversation.reset'; claudeSessionId: string; trigger: string }
  | { type: 'turn.started'; turnId: string; content: string | ContentBlock[] }
  | { type: 'text.delta' | 'thinking.delta'; turnId: string; text: string; parentToolUseId: string | null }
  | {
      type: 'message'
      turnId: string
      messageId: string
      model: string
      content: ContentBlock[]
      parentToolUseId: string | null
      synthetic: boolean
    }
  | {
      type: 'message.stop'
      turnId: string
      stopReason: string | null
      usage: TokenUsage
      parentToolUseId: string | null
    }
  | {
      type: 'tool.call'
      turnId: string
      toolUseId: string
      name: string
      input: unknown
      parentToolUseId: string | null
      direct?: true
    }
  | {
      type: 'tool.result'
      turnId: string
      toolUseId: string
      name: string
      isError: boolean
      content: string | ContentBlock[]
      structured?: unknown
      durationMs: number | null
      parentToolUseId: string | null
      denied?: true
      direct?: true
    }
  | {
      type: 'file.changed'
      turnId: string
      toolUseId: string
      tool: string
      path: string
      kind: 'created' | 'modified' | 'deleted'
      before?: string | null
      after?: string
    }
  | {
      type: 'permission.requested'
      turnId: string
      requestId: string
      toolUseId: string
      toolName: string
      input: unknown
      reason?: string
    }
  | {
      type: 'permission.resolved'
      turnId: string
      requestId: string
      behavior: 'allow' | 'deny'
      message?: string
      by: 'client' | 'rule' | 'timeout' | 'interrupt'
    }
  | {
      type: 'api.retry'
      turnId: string
      attempt: number
      maxRetries: number
      delayMs: number
      status: number | null
    }
  | { type: 'compacted'; turnId: string; trigger: string; preTokens: number; postTokens?: number }
  | { type: 'model.changed'; turnId: string; model: string | null }
  /** An API client changed the session's settings: each changed setting, by name (src/events/types.ts). */
  | { type: 'settings.changed'; changes: Record<string, SettingChange> }
  | { type: 'usage'; turnId: string; model: string; usage: TokenUsage; costUsd: number }
  | {
      type: 'turn.completed'
      turnId: string
      status: 'success' | 'error' | 'interrupted'
      result: string
      stopReason: string | null
      durationMs: number
      numTurns: number
      usage: TokenUsage
      costUsd: number
      error?: { code: string; message: string }
      localCommand?: string
    }
  | { type: 'error'; turnId?: string; code: string; message: string; retryAfterMs?: number }

/** One setting's values before and after, or for a prompt text or schema only that it changed. */
export type SettingChange = { from: unknown; to: unknown } | { changed: true }

export type EventType = EventBody['type']

/** An event as every stream carries it: its body plus the envelope. */
export type GatewayEvent = EventBody & {
  /** Per-session sequence number, from 1, without gaps. */
  seq: number
  /** Milliseconds since the epoch. */
  ts: number
  sessionId: string
}

/** An event from the tab's multiplexed stream, with its position there (the frame's `id:`). */
export type LiveEvent = GatewayEvent & { pos: number }

export type EventOf<T extends EventType> = Extract<LiveEvent, { type: T }>
