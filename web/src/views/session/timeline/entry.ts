/**
 * What the timeline shows, one entry per row before nesting and filters: a user message, a block of
 * Claude's text or thinking, a tool call (its card gathers its call, result and file changes), or a
 * decision point. model.ts makes them from events; rows.ts orders and nests them.
 */
import type { SettingChange, TokenUsage } from '../../../api/types/events.js'

export interface EntryBase {
  key: string
  /** Where it goes: the sequence number that made it (plus a fraction for a message's later blocks). */
  order: number
  /** The sequence number of the event that made it (a fork or a link points here). */
  seq: number
  ts: number
  turnId: string | null
  /** Inside a subagent: the `Task`/`Agent` call that started it. */
  parent: string | null
}

export interface ToolResult {
  text: string
  isError: boolean
  denied: boolean
  durationMs: number | null
}

export interface FileChange {
  seq: number
  path: string
  kind: 'created' | 'modified' | 'deleted'
  before?: string | null
  after?: string
}

export type Decision =
  | {
      type: 'permission'
      requestId: string
      toolUseId?: string
      toolName?: string
      input?: unknown
      reason?: string
      answer?: { behavior: 'allow' | 'deny'; by: string; message?: string }
    }
  | { type: 'retry'; attempt: number; maxRetries: number; delayMs: number; status: number | null }
  | { type: 'error'; code: string; message: string }
  | { type: 'compaction'; trigger: string; preTokens: number; postTokens: number | null }
  | { type: 'model'; model: string | null }
  /** An API client changed the session's settings (src/events/types.ts `settings.changed`). */
  | { type: 'settings'; changes: Record<string, SettingChange> }
  | { type: 'reset'; trigger: string }
  | {
      type: 'turn'
      status: 'success' | 'error' | 'interrupted'
      durationMs: number
      usage: TokenUsage
      costUsd: number
      error?: { code: string; message: string }
    }

export type Entry = EntryBase &
  (
    | { kind: 'user'; text: string; attachments: number }
    | { kind: 'text'; text: string; streaming: boolean; synthetic: boolean; messageId?: string }
    | { kind: 'thinking'; text: string; streaming: boolean; redacted: boolean }
    | {
        kind: 'tool'
        toolUseId: string
        name: string
        input: unknown
        direct: boolean
        result?: ToolResult
        files: FileChange[]
      }
    | { kind: 'decision'; decision: Decision }
  )

export type EntryOf<K extends Entry['kind']> = Extract<Entry, { kind: K }>
