/**
 * The audit trail read back (tag `audit`): GET /api/audit, a page of entries, and GET /api/audit/export, the
 * entries as NDJSON or CSV. Admins and viewers read every entry, a user only their own. What is recorded, and
 * how: src/api/audit.ts and src/users/audit.ts.
 */
import { Readable } from 'node:stream'
import { type Static, Type } from '@sinclair/typebox'
import type { FastifyPluginAsync } from 'fastify'
import type { GatewayContext } from '../../gateway.js'
import type { AuditEntry, AuditQuery as StoreAuditQuery } from '../../store/access.js'
import { forbidden } from '../../users/errors.js'
import { ownerFilter, type Principal } from '../../users/principal.js'
import { Enum, json, Nullable } from '../responses.js'
import { MAX_INTEGER } from '../validation.js'
import { NATIVE_COMMON, nativeErrors, QUERY_ERRORS } from './responses.js'

const Filters = {
  actor: Type.Optional(Type.String({ minLength: 1, description: 'Only what this user did.' })),
  action: Type.Optional(
    Type.String({ minLength: 1, description: 'Only this action (`createSession`, `tool.run`, …).' }),
  ),
  session_id: Type.Optional(Type.String({ minLength: 1, description: 'Only entries about this session.' })),
  since: Type.Optional(
    Type.Integer({
      minimum: 0,
      maximum: MAX_INTEGER,
      description: 'At or after this time (ms since the epoch).',
    }),
  ),
  until: Type.Optional(
    Type.Integer({
      minimum: 0,
      maximum: MAX_INTEGER,
      description: 'At or before this time (ms since the epoch).',
    }),
  ),
  before: Type.Optional(
    Type.Integer({
      minimum: 1,
      maximum: MAX_INTEGER,
      description: "Only entries older than this id: the previous page's `next_before`.",
    }),
  ),
}
const ListQuery = Type.Object(
  {
    ...Filters,
    limit: Type.Integer({ minimum: 1, maximum: 500, default: 100, description: 'Entries per page.' }),
  },
  { additionalProperties: false },
)
const EXPORT_FORMATS = ['ndjson', 'csv'] as const
/** The most rows one export holds: larger trails are exported in ranges (`since`, `until`, `before`). */
const MAX_EXPORT_ROWS = 1_000_000
const ExportQuery = Type.Object(
  {
    ...Filters,
    format: Type.Optional(
      Enum(EXPORT_FORMATS, { description: 'ndjson (default): a JSON entry a line; csv.' }),
    ),
    limit: Type.Integer({
      minimum: 1,
      maximum: MAX_EXPORT_ROWS,
      default: 100_000,
      description: 'The most entries exported (newest first).',
    }),
  },
  { additionalProperties: false },
)

const AuditEntrySchema = Type.Object(
  {
    id: Type.Integer({ description: 'Increasing in the order entries were written.' }),
    ts: Type.String({ format: 'date-time' }),
    actor: Nullable(Type.String(), { description: "The user's name; null: the operator, or the gateway." }),
    role: Nullable(Enum(['admin', 'user', 'viewer'])),
    action: Type.String({ description: "The route's operationId, `tool.run` or `config.reloaded`." }),
    session_id: Nullable(Type.String()),
    target: Nullable(Type.String({ description: 'What else it names: an agent, a tool, a key, a user.' })),
    status: Type.Integer({ description: 'The HTTP status answered; 0 for what was no request.' }),
    request_id: Nullable(Type.String()),
    ip: Nullable(Type.String()),
    detail: Type.Record(Type.String(), Type.Unknown(), {
      description:
        'Further facts: field names, sizes, model, error code; the prompt with users.auditPrompts.',
    }),
  },
  { description: 'Who did what, and when.' },
)
type AuditEntryView = Static<typeof AuditEntrySchema>

const AuditPage = Type.Object({
  items: Type.Array(AuditEntrySchema),
  next_before: Nullable(Type.Integer(), {
    description: 'The `before` of the next (older) page; null at the end.',
  }),
})

const READ_ERRORS = {
  ...QUERY_ERRORS,
  ...NATIVE_COMMON,
  403: 'forbidden: a user asked for entries of another actor (users read only their own).',
}

export const auditRoutes: FastifyPluginAsync<{ gateway: GatewayContext }> = async (app, { gateway }) => {
  app.get<{ Querystring: Static<typeof ListQuery> }>(
    '/audit',
    {
      schema: {
        operationId: 'listAudit',
        tags: ['audit'],
        summary: 'The audit trail',
        description:
          'Who did what and when, newest first: every request that changed something, the tools Claude ran ' +
          '(`tool.run`) and configuration reloads (`config.reloaded`). Admins and viewers read every ' +
          "entry; a user reads only their own. Page with `before` = the previous page's `next_before`.",
        querystring: ListQuery,
        response: { 200: json('A page of entries.', AuditPage), ...nativeErrors(READ_ERRORS) },
      },
    },
    async (request): Promise<Static<typeof AuditPage>> => {
      const { limit } = request.query
      const entries = await gateway.users.audit.read(storeQuery(request.principal, request.query, limit))
      return {
        items: entries.map(entryView),
        next_before: entries.length === limit ? (entries.at(-1)?.id ?? null) : null,
      }
    },
  )

  app.get<{ Querystring: Static<typeof ExportQuery> }>(
    '/audit/export',
    {
      schema: {
        operationId: 'exportAudit',
        tags: ['audit'],
        summary: 'The audit trail as a file',
        description:
          'The entries the filters select, newest first, as a download (Content-Disposition: attachment): ' +
          'NDJSON (one entry as GET /api/audit shows it a line) or CSV (`detail` as JSON). Streamed page by ' +
          'page, at most `limit` entries. Who reads what: as GET /api/audit.',
        querystring: ExportQuery,
        response: {
          200: {
            description: 'The entries.',
            content: {
              'application/x-ndjson': { schema: { type: 'string' } },
              'text/csv': { schema: { type: 'string' } },
            },
            headers: {
              'content-disposition': { type: 'string', description: '`attachment` with a file name.' },
            },
          },
          ...nativeErrors(READ_ERRORS),
        },
      },
    },
    async (request, reply) => {
      const { format = 'ndjson', limit } = request.query
      const query = storeQuery(request.principal, request.query, limit)
      // Refused now (403) rather than halfway through a download; the first page is read before answering.
      const first = await gateway.users.audit.read({ ...query, limit: Math.min(EXPORT_PAGE, limit) })
      const lines = exportLines(gateway, query, first, format)
      const stamp = new Date().toISOString().slice(0, 19).replace(/:/g, '-')
      return reply
        .header('content-disposition', `attachment; filename="audit-${stamp}.${format}"`)
        .header('x-content-type-options', 'nosniff')
        .type(format === 'csv' ? 'text/csv; charset=utf-8' : 'application/x-ndjson; charset=utf-8')
        .send(Readable.from(lines))
    },
  )
}

const EXPORT_PAGE = 500

/** The store's query for `principal`: a user's is limited to their own entries; others' are refused. */
function storeQuery(
  principal: Principal,
  query: Omit<Static<typeof ListQuery>, 'limit'>,
  limit: number,
): StoreAuditQuery {
  const own = ownerFilter(principal)
  if (own !== undefined && query.actor !== undefined && query.actor !== own)
    throw forbidden('A user reads only their own entries of the audit trail', 'querystring.actor')
  return {
    actor: own ?? query.actor,
    action: query.action,
    sessionId: query.session_id,
    since: query.since,
    until: query.until,
    before: query.before,
    limit,
  }
}

/** The export's lines, page after page until `query.limit` entries or the trail's end. */
async function* exportLines(
  gateway: GatewayContext,
  query: StoreAuditQuery,
  first: AuditEntry[],
  format: (typeof EXPORT_FORMATS)[number],
): AsyncGenerator<string> {
  if (format === 'csv') yield `${CSV_COLUMNS.join(',')}\r\n`
  let page = first
  let left = query.limit
  while (page.length > 0) {
    let chunk = ''
    for (const entry of page)
      chunk += format === 'csv' ? csvLine(entryView(entry)) : `${JSON.stringify(entryView(entry))}\n`
    yield chunk
    left -= page.length
    if (left <= 0 || page.length < EXPORT_PAGE) return
    page = await gateway.users.audit.read({
      ...query,
      before: page.at(-1)!.id,
      limit: Math.min(EXPORT_PAGE, left),
    })
  }
}

const CSV_COLUMNS = [
  'id',
  'ts',
  'actor',
  'role',
  'action',
  'session_id',
  'target',
  'status',
  'request_id',
  'ip',
  'detail',
] as const

function csvLine(entry: AuditEntryView): string {
  const fields = CSV_COLUMNS.map((column) =>
    csvField(column === 'detail' ? JSON.stringify(entry.detail) : entry[column]),
  )
  return `${fields.join(',')}\r\n`
}

/**
 * One CSV field (RFC 4180), quoted when it must be. A text a spreadsheet would take for a formula (`=`, `+`,
 * `-`, `@`, …: names and prompts are the clients' own) gets a leading `'`, which shows it as text.
 */
export function csvField(value: unknown): string {
  if (value === null || value === undefined) return ''
  let text = String(value)
  if (typeof value === 'string' && /^[=+\-@\t\r]/.test(text)) text = `'${text}`
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text
}

function entryView(entry: AuditEntry): AuditEntryView {
  return {
    id: entry.id,
    ts: new Date(entry.ts).toISOString(),
    actor: entry.actor,
    role: entry.role,
    action: entry.action,
    session_id: entry.sessionId,
    target: entry.target,
    status: entry.status,
    request_id: entry.requestId,
    ip: entry.ip,
    detail: entry.detail,
  }
}
