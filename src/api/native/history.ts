/**
 * A session's conversation as a readable history, from its event log: `GET /api/sessions/{id}/history`
 * (paginated by sequence number), `POST /api/sessions/{id}/export` (JSON, Markdown or self-contained HTML),
 * and `POST /api/sessions/{id}/thinking` (the thinking setting of its next turns).
 *
 * The history is what happened, not what streamed: token deltas are left out (each block comes whole in its
 * `message`), so are process state, usage (repeated by the turn's outcome) and retries.
 */
import { type Static, Type } from '@sinclair/typebox'
import type { FastifyPluginAsync } from 'fastify'
import type { EventBus } from '../../events/bus.js'
import type { ContentBlock, GatewayEvent } from '../../events/types.js'
import type { GatewayContext } from '../../gateway.js'
import type { SessionRecord } from '../../store/types.js'
import { JSON_TYPE } from '../media-types.js'
import { MAX_INTEGER } from '../validation.js'
import { sessionOrThrow } from './resolve.js'
import { SessionParams, ThinkingSchema, thinkingSetting } from './schemas.js'
import { sessionView, usageView } from './views.js'

const HistoryQuery = Type.Object(
  {
    /** The sequence number to continue after (a page's `next_after`); 0 from the start. */
    after: Type.Integer({ minimum: 0, maximum: MAX_INTEGER, default: 0 }),
    limit: Type.Integer({ minimum: 1, maximum: 1000, default: 200 }),
  },
  { additionalProperties: false },
)

const ExportBody = Type.Object(
  { format: Type.Union([Type.Literal('json'), Type.Literal('markdown'), Type.Literal('html')]) },
  { additionalProperties: false },
)
export type ExportFormat = Static<typeof ExportBody>['format']

/** Raw events read per store query while building a page. */
const CHUNK_MIN = 100
const CHUNK_MAX = 1000
/**
 * Raw events one page reads at most: a page stops there even with fewer than `limit` items (`has_more`
 * tells), so a turn of a hundred thousand token deltas costs several cheap pages, not one slow one.
 */
const SCAN_BUDGET = 20_000

export const historyRoutes: FastifyPluginAsync<{ gateway: GatewayContext }> = async (app, { gateway }) => {
  const { engine, bus } = gateway

  app.get<{ Params: Static<typeof SessionParams>; Querystring: Static<typeof HistoryQuery> }>(
    '/sessions/:id/history',
    { schema: { params: SessionParams, querystring: HistoryQuery } },
    async (request) => {
      const { id } = request.params
      sessionOrThrow(engine, id)
      return { session_id: id, ...historyPage(bus, id, request.query.after, request.query.limit) }
    },
  )

  app.post<{ Params: Static<typeof SessionParams>; Body: Static<typeof ExportBody> }>(
    '/sessions/:id/export',
    { schema: { params: SessionParams, body: ExportBody } },
    async (request, reply) => {
      const { body, type, fileName } = exportOf(gateway, request.params.id, request.body.format)
      return reply
        .header('content-disposition', `attachment; filename="${fileName}"`)
        .header('x-content-type-options', 'nosniff')
        .type(type)
        .send(body)
    },
  )

  app.post<{ Params: Static<typeof SessionParams>; Body: Static<typeof ThinkingSchema> }>(
    '/sessions/:id/thinking',
    { schema: { params: SessionParams, body: ThinkingSchema } },
    async (request) => {
      const { id } = request.params
      sessionOrThrow(engine, id)
      return sessionView(engine.updateSettings(id, { thinking: thinkingSetting(request.body) }), engine)
    },
  )
}

/** `POST /sessions/{id}/export`: the whole conversation as one document, its media type and a file name. */
export function exportOf(gateway: GatewayContext, id: string, format: ExportFormat) {
  const { engine, bus } = gateway
  const record = sessionOrThrow(engine, id)
  const session = sessionView(record, engine)
  const items = wholeHistory(bus, id)
  const exportedAt = new Date().toISOString()
  const base = `session-${id.replace(/[^\w.-]/g, '_')}`
  const [body, type, extension] =
    format === 'json'
      ? [`${JSON.stringify({ session, exported_at: exportedAt, items }, null, 2)}\n`, JSON_TYPE, 'json']
      : format === 'markdown'
        ? [toMarkdown(record, items, exportedAt), 'text/markdown; charset=utf-8', 'md']
        : [toHtml(record, items, exportedAt), 'text/html; charset=utf-8', 'html']
  return { body, type, fileName: `${base}.${extension}` }
}

// ---------------------------------------------------------------------------------------------------------
// History items

interface ItemBase {
  seq: number
  /** When the gateway recorded it (ISO 8601). */
  ts: string
  /** The turn it belongs to; null for what happens between turns (a reset, a failure to start). */
  turn_id: string | null
}

type Usage = ReturnType<typeof usageView>

export type HistoryItem = ItemBase &
  (
    | { type: 'user'; content: string | ContentBlock[] }
    | {
        type: 'assistant'
        message_id: string
        model: string
        /** Anthropic content blocks as the CLI reported them: `text`, `thinking`, `tool_use`, ... */
        content: ContentBlock[]
        parent_tool_use_id: string | null
        synthetic: boolean
      }
    /** A direct tool call made through the API (`POST /api/sessions/{id}/tools/{name}`); Claude's own
     * calls are the `tool_use` blocks of `assistant` items. */
    | { type: 'tool_call'; tool_use_id: string; name: string; input: unknown; direct: true }
    | {
        type: 'tool_result'
        tool_use_id: string
        name: string
        is_error: boolean
        content: string | ContentBlock[]
        structured?: unknown
        duration_ms: number | null
        parent_tool_use_id: string | null
      }
    | {
        type: 'file_change'
        tool_use_id: string
        tool: string
        path: string
        kind: 'created' | 'modified' | 'deleted'
        before?: string | null
        after?: string
      }
    | { type: 'compaction'; trigger: string; pre_tokens: number; post_tokens: number | null }
    | { type: 'conversation_reset'; claude_session_id: string; trigger: string }
    | { type: 'error'; code: string; message: string; retry_after_ms?: number }
    | {
        type: 'turn_completed'
        status: string
        result: string
        stop_reason: string | null
        duration_ms: number
        num_turns: number
        usage: Usage
        cost_usd: number
        structured_output?: unknown
        error?: { code: string; message: string }
      }
  )

/** The history item an event stands for, or null for what the history leaves out. */
export function historyItem(event: GatewayEvent): HistoryItem | null {
  const base = (turnId: string | null | undefined): ItemBase => ({
    seq: event.seq,
    ts: new Date(event.ts).toISOString(),
    turn_id: turnId ?? null,
  })
  switch (event.type) {
    case 'turn.started':
      return { ...base(event.turnId), type: 'user', content: event.content }
    case 'message':
      return {
        ...base(event.turnId),
        type: 'assistant',
        message_id: event.messageId,
        model: event.model,
        content: event.content,
        parent_tool_use_id: event.parentToolUseId,
        synthetic: event.synthetic,
      }
    case 'tool.call':
      // Claude's calls are already in their `message`; only the API's direct calls have none.
      if (!event.turnId.startsWith('direct-')) return null
      return {
        ...base(event.turnId),
        type: 'tool_call',
        tool_use_id: event.toolUseId,
        name: event.name,
        input: event.input,
        direct: true,
      }
    case 'tool.result':
      return {
        ...base(event.turnId),
        type: 'tool_result',
        tool_use_id: event.toolUseId,
        name: event.name,
        is_error: event.isError,
        content: event.content,
        ...(event.structured !== undefined ? { structured: event.structured } : {}),
        duration_ms: event.durationMs,
        parent_tool_use_id: event.parentToolUseId,
      }
    case 'file.changed':
      return {
        ...base(event.turnId),
        type: 'file_change',
        tool_use_id: event.toolUseId,
        tool: event.tool,
        path: event.path,
        kind: event.kind,
        ...(event.before !== undefined ? { before: event.before } : {}),
        ...(event.after !== undefined ? { after: event.after } : {}),
      }
    case 'compacted':
      return {
        ...base(event.turnId),
        type: 'compaction',
        trigger: event.trigger,
        pre_tokens: event.preTokens,
        post_tokens: event.postTokens ?? null,
      }
    case 'conversation.reset':
      return {
        ...base(null),
        type: 'conversation_reset',
        claude_session_id: event.claudeSessionId,
        trigger: event.trigger,
      }
    case 'error':
      return {
        ...base(event.turnId),
        type: 'error',
        code: event.code,
        message: event.message,
        ...(event.retryAfterMs !== undefined ? { retry_after_ms: event.retryAfterMs } : {}),
      }
    case 'turn.completed':
      return {
        ...base(event.turnId),
        type: 'turn_completed',
        status: event.status,
        result: event.result,
        stop_reason: event.stopReason,
        duration_ms: event.durationMs,
        num_turns: event.numTurns,
        usage: usageView(event.usage),
        cost_usd: event.costUsd,
        ...(event.structuredOutput !== undefined ? { structured_output: event.structuredOutput } : {}),
        ...(event.error ? { error: event.error } : {}),
      }
    default:
      return null
  }
}

export interface HistoryPage {
  items: HistoryItem[]
  /** Pass as `after` for the next page: the last sequence number this page read. */
  next_after: number
  /** More events follow `next_after` (a page can be short when it read its whole scan budget). */
  has_more: boolean
}

/** Up to `limit` items after `after`, reading at most SCAN_BUDGET raw events from the store. */
export function historyPage(bus: EventBus, sessionId: string, after: number, limit: number): HistoryPage {
  const items: HistoryItem[] = []
  const chunk = Math.min(CHUNK_MAX, Math.max(CHUNK_MIN, limit * 4))
  let cursor = after
  let scanned = 0
  scan: while (scanned < SCAN_BUDGET) {
    const want = Math.min(chunk, SCAN_BUDGET - scanned)
    const events = bus.replay(sessionId, cursor, want)
    for (const event of events) {
      cursor = event.seq
      scanned++
      const item = historyItem(event)
      if (item) {
        items.push(item)
        if (items.length >= limit) break scan
      }
    }
    if (events.length < want) break
  }
  return { items, next_after: cursor, has_more: cursor < bus.currentSeq(sessionId) }
}

/** Every item of the session's history, read chunk by chunk (the raw events are not all held at once). */
function wholeHistory(bus: EventBus, sessionId: string): HistoryItem[] {
  const items: HistoryItem[] = []
  let cursor = 0
  for (;;) {
    const events = bus.replay(sessionId, cursor, CHUNK_MAX)
    for (const event of events) {
      cursor = event.seq
      const item = historyItem(event)
      if (item) items.push(item)
    }
    if (events.length < CHUNK_MAX) return items
  }
}

// ---------------------------------------------------------------------------------------------------------
// Export: the history grouped into sections, then rendered as Markdown or HTML

interface Section {
  /** "Turn 3", "Turn 3 (continued)", "Direct tool call", "Conversation reset", ... */
  title: string
  ts: string
  items: HistoryItem[]
}

/** Consecutive items of one turn form a section; a section opened by a user message is a numbered turn. */
function sections(items: readonly HistoryItem[]): Section[] {
  const out: Section[] = []
  const numbers = new Map<string, number>()
  let current: Section | null = null
  let currentTurn: string | null | undefined
  for (const item of items) {
    // A reset (`/clear`) happens inside the turn that asked for it, though its event names no turn.
    if (current && item.type === 'conversation_reset') {
      current.items.push(item)
      continue
    }
    if (!current || item.turn_id !== currentTurn || item.turn_id === null || item.type === 'user') {
      current = { title: sectionTitle(item, numbers), ts: item.ts, items: [] }
      currentTurn = item.turn_id
      out.push(current)
    }
    // The CLI reports each block of a model response as its own message: shown together, as one reply.
    const last = current.items.at(-1)
    if (
      item.type === 'assistant' &&
      last?.type === 'assistant' &&
      last.message_id === item.message_id &&
      last.parent_tool_use_id === item.parent_tool_use_id
    )
      current.items[current.items.length - 1] = { ...last, content: [...last.content, ...item.content] }
    else current.items.push(item)
  }
  return out
}

function sectionTitle(first: HistoryItem, numbers: Map<string, number>): string {
  if (first.type === 'conversation_reset') return 'Conversation reset'
  if (first.turn_id === null) return first.type === 'error' ? 'Error' : 'Session'
  if (first.type === 'tool_call') return 'Direct tool call'
  if (first.type === 'user') {
    const number = numbers.size + 1
    numbers.set(first.turn_id, number)
    return `Turn ${number}`
  }
  const number = numbers.get(first.turn_id)
  if (first.turn_id.startsWith('direct-')) return 'Direct tool call'
  return number ? `Turn ${number} (continued)` : 'Turn'
}

/** The readable text of content blocks; what is not text is named in brackets. */
function contentText(content: string | readonly ContentBlock[]): string {
  if (typeof content === 'string') return content
  return content
    .map((block) => {
      if (block.type === 'text' && typeof block.text === 'string') return block.text
      if (block.type === 'tool_result') return contentText(toolResultContent(block.content))
      const media = (block.source as { media_type?: unknown } | undefined)?.media_type
      return `[${block.type}${typeof media === 'string' ? `: ${media}` : ''}]`
    })
    .join('\n\n')
}

function toolResultContent(content: unknown): string | ContentBlock[] {
  if (typeof content === 'string') return content
  return Array.isArray(content) ? (content as ContentBlock[]) : ''
}

function json(value: unknown): string {
  return JSON.stringify(value, null, 2) ?? 'null'
}

function outcome(item: Extract<HistoryItem, { type: 'turn_completed' }>): string {
  const parts = [
    item.status,
    `${item.usage.input_tokens} in / ${item.usage.output_tokens} out tokens`,
    `$${item.cost_usd.toFixed(4)}`,
    `${(item.duration_ms / 1000).toFixed(1)} s`,
  ]
  if (item.error) parts.push(`${item.error.code}: ${item.error.message}`)
  return parts.join(' · ')
}

function header(record: SessionRecord, exportedAt: string): [string, string][] {
  return [
    ['Session', record.id],
    ['Workspace', record.settings.workspace],
    ['Model', record.settings.model ?? 'default'],
    ['Created', new Date(record.createdAt).toISOString()],
    ['Turns', String(record.turns)],
    ['Cost', `$${record.costUsd.toFixed(4)}`],
    ['Exported', exportedAt],
  ]
}

const FILE_VERB = { created: 'created', modified: 'modified', deleted: 'deleted' } as const

/** A fenced code block that its own content cannot close: the fence is longer than any backtick run in it. */
function fenced(text: string, language = ''): string {
  const longest = Math.max(2, ...Array.from(text.matchAll(/`+/g), (match) => match[0].length))
  const fence = '`'.repeat(longest + 1)
  return `${fence}${language}\n${text}${text.endsWith('\n') ? '' : '\n'}${fence}`
}

export function toMarkdown(record: SessionRecord, items: readonly HistoryItem[], exportedAt: string): string {
  const out: string[] = [`# ${record.title ?? `Session ${record.id}`}`, '']
  for (const [key, value] of header(record, exportedAt)) out.push(`- **${key}:** ${value}`)
  for (const section of sections(items)) {
    out.push('', `## ${section.title}`, '', `*${section.ts}*`)
    for (const item of section.items) out.push('', ...markdownItem(item))
  }
  return `${out.join('\n')}\n`
}

function markdownItem(item: HistoryItem): string[] {
  switch (item.type) {
    case 'user':
      return ['### User', '', contentText(item.content)]
    case 'assistant': {
      const who = item.parent_tool_use_id
        ? `### Assistant (subagent of \`${item.parent_tool_use_id}\`)`
        : item.synthetic
          ? '### Assistant (local command)'
          : '### Assistant'
      const out = [who]
      for (const block of item.content) {
        if (block.type === 'text') out.push('', String(block.text ?? ''))
        else if (block.type === 'thinking')
          out.push(
            '',
            '<details>',
            '<summary>Thinking</summary>',
            '',
            String(block.thinking ?? ''),
            '',
            '</details>',
          )
        else if (block.type === 'redacted_thinking') out.push('', '*[redacted thinking]*')
        else if (block.type === 'tool_use')
          out.push(
            '',
            `**Tool call: ${block.name}** (\`${block.id}\`)`,
            '',
            fenced(json(block.input), 'json'),
          )
        else out.push('', `*[${block.type}]*`)
      }
      return out
    }
    case 'tool_call':
      return [
        `**Direct tool call: ${item.name}** (\`${item.tool_use_id}\`)`,
        '',
        fenced(json(item.input), 'json'),
      ]
    case 'tool_result':
      return [
        `**${item.is_error ? 'Tool error' : 'Tool result'}: ${item.name}** (\`${item.tool_use_id}\`)`,
        '',
        fenced(contentText(item.content)),
      ]
    case 'file_change':
      return [`**File ${FILE_VERB[item.kind]}:** \`${item.path}\` (${item.tool})`]
    case 'compaction':
      return [
        `> **Conversation compacted** (${item.trigger}): ${item.pre_tokens} tokens` +
          (item.post_tokens !== null ? ` → ${item.post_tokens}` : ''),
      ]
    case 'conversation_reset':
      return [
        '---',
        '',
        `> **Conversation reset** (${item.trigger}): Claude starts a new conversation \`${item.claude_session_id}\``,
        '',
        '---',
      ]
    case 'error':
      return [`> **Error** \`${item.code}\`: ${item.message}`]
    case 'turn_completed':
      return [`*Turn ${outcome(item)}*`]
  }
}

/** HTML-escape text, for element content and quoted attribute values alike. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)
}

const STYLE = `
:root { color-scheme: light dark; --fg: #1f2328; --muted: #656d76; --bg: #fff; --panel: #f6f8fa; --line: #d0d7de;
  --user: #ddf4ff; --err: #ffebe9; --accent: #0969da; }
@media (prefers-color-scheme: dark) { :root { --fg: #e6edf3; --muted: #8d96a0; --bg: #0d1117; --panel: #161b22;
  --line: #30363d; --user: #0c2d6b; --err: #5d0f12; --accent: #4493f8; } }
body { margin: 0 auto; max-width: 960px; padding: 24px; font: 15px/1.5 system-ui, sans-serif; color: var(--fg);
  background: var(--bg); }
h1 { font-size: 1.6em; margin: 0 0 8px; } h2 { font-size: 1.2em; margin: 32px 0 8px; border-bottom: 1px solid var(--line); }
dl.meta { display: grid; grid-template-columns: max-content 1fr; gap: 2px 16px; color: var(--muted); margin: 0; }
dl.meta dt { font-weight: 600; } dl.meta dd { margin: 0; overflow-wrap: anywhere; }
time { color: var(--muted); font-size: .85em; font-weight: normal; margin-left: 8px; }
.item { margin: 10px 0; padding: 10px 14px; border: 1px solid var(--line); border-radius: 8px; background: var(--panel); }
.user { background: var(--user); } .error { background: var(--err); }
.role { font-weight: 600; font-size: .85em; color: var(--muted); margin-bottom: 4px; }
.text { white-space: pre-wrap; overflow-wrap: anywhere; margin: 6px 0; }
pre { margin: 6px 0; padding: 8px; overflow-x: auto; background: var(--bg); border: 1px solid var(--line);
  border-radius: 6px; font: 13px/1.4 ui-monospace, monospace; white-space: pre-wrap; overflow-wrap: anywhere; }
details { margin: 6px 0; } summary { cursor: pointer; color: var(--muted); }
.notice { color: var(--muted); font-style: italic; margin: 10px 0; }
.boundary { border-top: 2px dashed var(--accent); padding-top: 8px; }
.outcome { color: var(--muted); font-size: .9em; margin: 6px 0 0; }
code { font-family: ui-monospace, monospace; }
`

export function toHtml(record: SessionRecord, items: readonly HistoryItem[], exportedAt: string): string {
  const e = escapeHtml
  const title = record.title ?? `Session ${record.id}`
  const out: string[] = [
    '<!doctype html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    // Nothing runs and nothing is fetched: the file stands alone and inert.
    `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">`,
    `<title>${e(title)}</title>`,
    `<style>${STYLE}</style>`,
    '</head>',
    '<body>',
    `<header><h1>${e(title)}</h1><dl class="meta">`,
    ...header(record, exportedAt).map(([key, value]) => `<dt>${e(key)}</dt><dd>${e(value)}</dd>`),
    '</dl></header>',
  ]
  for (const section of sections(items)) {
    out.push(
      '<section>',
      `<h2>${e(section.title)}<time datetime="${e(section.ts)}">${e(section.ts)}</time></h2>`,
      ...section.items.map(htmlItem),
      '</section>',
    )
  }
  out.push('</body>', '</html>')
  return `${out.join('\n')}\n`
}

function htmlItem(item: HistoryItem): string {
  const e = escapeHtml
  const text = (value: string) => `<div class="text">${e(value)}</div>`
  const code = (value: string) => `<pre><code>${e(value)}</code></pre>`
  switch (item.type) {
    case 'user':
      return `<div class="item user"><div class="role">User</div>${text(contentText(item.content))}</div>`
    case 'assistant': {
      const role = item.parent_tool_use_id
        ? `Assistant (subagent of ${item.parent_tool_use_id})`
        : item.synthetic
          ? 'Assistant (local command)'
          : 'Assistant'
      const blocks = item.content.map((block) => {
        if (block.type === 'text') return text(String(block.text ?? ''))
        if (block.type === 'thinking')
          return `<details><summary>Thinking</summary>${text(String(block.thinking ?? ''))}</details>`
        if (block.type === 'redacted_thinking') return '<div class="notice">[redacted thinking]</div>'
        if (block.type === 'tool_use')
          return `<div class="role">Tool call: ${e(String(block.name))} <code>${e(String(block.id))}</code></div>${code(json(block.input))}`
        return `<div class="notice">[${e(block.type)}]</div>`
      })
      return `<div class="item assistant"><div class="role">${e(role)}</div>${blocks.join('')}</div>`
    }
    case 'tool_call':
      return `<div class="item tool"><div class="role">Direct tool call: ${e(item.name)} <code>${e(item.tool_use_id)}</code></div>${code(json(item.input))}</div>`
    case 'tool_result':
      return `<div class="item tool${item.is_error ? ' error' : ''}"><div class="role">${item.is_error ? 'Tool error' : 'Tool result'}: ${e(item.name)} <code>${e(item.tool_use_id)}</code></div>${code(contentText(item.content))}</div>`
    case 'file_change':
      return `<div class="notice">File ${FILE_VERB[item.kind]}: <code>${e(item.path)}</code> (${e(item.tool)})</div>`
    case 'compaction':
      return `<div class="notice boundary">Conversation compacted (${e(item.trigger)}): ${item.pre_tokens} tokens${item.post_tokens !== null ? ` → ${item.post_tokens}` : ''}</div>`
    case 'conversation_reset':
      return `<div class="notice boundary">Conversation reset (${e(item.trigger)}): Claude starts a new conversation <code>${e(item.claude_session_id)}</code></div>`
    case 'error':
      return `<div class="item error"><div class="role">Error <code>${e(item.code)}</code></div>${text(item.message)}</div>`
    case 'turn_completed':
      return `<div class="outcome">Turn ${e(outcome(item))}</div>`
  }
}
