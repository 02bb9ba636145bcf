/**
 * A session's history as one document (`POST /api/sessions/{id}/export`, `/export`): JSON, or grouped into
 * sections and rendered as Markdown or self-contained HTML.
 */
import type { ContentBlock } from '../../events/types.js'
import type { GatewayContext } from '../../gateway.js'
import type { SessionRecord } from '../../store/types.js'
import { JSON_TYPE } from '../media-types.js'
import { type HistoryItem, wholeHistory } from './history-items.js'
import { sessionOrThrow } from './resolve.js'
import { sessionView } from './views.js'

export const EXPORT_FORMATS = ['json', 'markdown', 'html'] as const
export type ExportFormat = (typeof EXPORT_FORMATS)[number]

/** The whole conversation as one document, its media type and a file name. */
export async function exportOf(gateway: GatewayContext, id: string, format: ExportFormat) {
  const { engine, bus } = gateway
  const record = await sessionOrThrow(engine, id)
  const session = sessionView(record, engine)
  const items = await wholeHistory(bus, id)
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
  /** The turns of direct calls (their `tool_call` comes first). */
  const direct = new Set<string>()
  let current: Section | null = null
  let currentTurn: string | null | undefined
  for (const item of items) {
    // A reset (`/clear`) happens inside the turn that asked for it, though its event names no turn.
    // Settings changed one after the other, between the same turns, are one section.
    const moreSettings = item.type === 'settings_change' && current?.items.at(-1)?.type === 'settings_change'
    if (current && (item.type === 'conversation_reset' || moreSettings)) {
      current.items.push(item)
      continue
    }
    if (item.type === 'tool_call' && item.turn_id !== null) direct.add(item.turn_id)
    if (!current || item.turn_id !== currentTurn || item.turn_id === null || item.type === 'user') {
      current = { title: sectionTitle(item, numbers, direct), ts: item.ts, items: [] }
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

function sectionTitle(first: HistoryItem, numbers: Map<string, number>, direct: ReadonlySet<string>): string {
  if (first.type === 'conversation_reset') return 'Conversation reset'
  if (first.type === 'settings_change') return 'Settings changed'
  if (first.turn_id === null) return first.type === 'error' ? 'Error' : 'Session'
  // A direct call's result can come after items of the turn that ran meanwhile: its own section again.
  if (direct.has(first.turn_id)) return 'Direct tool call'
  if (first.type === 'user') {
    const number = numbers.size + 1
    numbers.set(first.turn_id, number)
    return `Turn ${number}`
  }
  const number = numbers.get(first.turn_id)
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

function answerText(item: Extract<HistoryItem, { type: 'permission_answer' }>): string {
  const verdict = item.behavior === 'allow' ? 'allowed' : 'denied'
  return `${verdict} (${item.by})${item.message ? `: ${item.message}` : ''}`
}

function retryText(item: Extract<HistoryItem, { type: 'api_retry' }>): string {
  return `${item.attempt}/${item.max_retries} after ${item.status ?? 'no response'}, waiting ${item.delay_ms} ms`
}

/** "model: default → opus; system_prompt changed": a prompt's text is never in the history. */
function settingsText(item: Extract<HistoryItem, { type: 'settings_change' }>): string {
  const value = (v: unknown) => (v === null ? 'default' : typeof v === 'string' ? v : JSON.stringify(v))
  return Object.entries(item.changes)
    .map(([key, change]) =>
      'changed' in change ? `${key} changed` : `${key}: ${value(change.from)} → ${value(change.to)}`,
    )
    .join('; ')
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
    case 'permission_request':
      return [`> **Permission asked** for \`${item.tool_name}\` (\`${item.tool_use_id}\`)`]
    case 'permission_answer':
      return [`> **Permission ${answerText(item)}**`]
    case 'api_retry':
      return [`> **API retry** ${retryText(item)}`]
    case 'model_change':
      return [`> **Model changed** to \`${item.model ?? 'default'}\``]
    case 'settings_change':
      return [`> **Settings changed:** ${settingsText(item)}`]
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
    case 'permission_request':
      return `<div class="notice">Permission asked for <code>${e(item.tool_name)}</code> (<code>${e(item.tool_use_id)}</code>)</div>`
    case 'permission_answer':
      return `<div class="notice">Permission ${e(answerText(item))}</div>`
    case 'api_retry':
      return `<div class="notice">API retry ${e(retryText(item))}</div>`
    case 'model_change':
      return `<div class="notice">Model changed to <code>${e(item.model ?? 'default')}</code></div>`
    case 'settings_change':
      return `<div class="notice">Settings changed: ${e(settingsText(item))}</div>`
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
