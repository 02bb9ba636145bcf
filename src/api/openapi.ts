/**
 * The OpenAPI 3 description of the gateway's HTTP API, served at `GET /api/openapi.json`.
 *
 * @fastify/swagger collects every route as it is registered, with the request schemas Fastify validates
 * (body, querystring, path parameters), so the document cannot drift from the validation. What a route
 * definition does not say (tags, summaries, the response shapes, error statuses) is added here by a
 * transform that changes only the document: no response schema reaches Fastify's serializer, so nothing
 * here can change what a route answers. The response schemas below describe what the handlers build
 * (src/api/native/views.ts, sessions.ts, tools.ts, src/tools/*); test/integration/openapi.test.ts checks
 * real answers against them. The prose reference is docs/api.md.
 */
import swagger from '@fastify/swagger'
import { type TSchema, Type } from '@sinclair/typebox'
import type { FastifyInstance, FastifyPluginAsync, FastifySchema, RouteOptions } from 'fastify'
import type { GatewayContext } from '../gateway.js'
import { describeTools, TOOL_NAMES } from '../tools/index.js'
import { VERSION } from '../version.js'

/** JSON as it goes into the document (TypeBox's symbols dropped). */
type Json = Record<string, unknown>
const plain = (schema: TSchema): Json => JSON.parse(JSON.stringify(schema)) as Json
const Nullable = <T extends TSchema>(schema: T, options: { description?: string } = {}) =>
  Type.Union([schema, Type.Null()], options)
const Enum = (values: readonly string[], options: { description?: string } = {}) =>
  Type.Unsafe<string>({ type: 'string', enum: [...values], ...options })
/** One of `values` or null (null listed in the enum, as OpenAPI 3.0 wants for a nullable enum). */
const NullableEnum = (values: readonly string[]) =>
  Type.Unsafe<string | null>({ type: ['string', 'null'], enum: [...values, null] })
/** A reference to one of SCHEMAS. */
const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` })

// ---- Shared shapes ------------------------------------------------------------------------------------

const NativeError = Type.Object(
  {
    error: Type.Object({
      code: Type.String({ description: 'Stable, machine-readable code (docs/api.md lists them).' }),
      message: Type.String({ description: 'Human-readable detail.' }),
      field: Type.Optional(
        Type.String({
          description: 'The request field at fault, as a path: `body.workspace`, `querystring.limit`.',
        }),
      ),
    }),
  },
  { description: 'The one error shape of the native API (/api).' },
)

const OpenAIError = Type.Object(
  {
    error: Type.Object({
      message: Type.String(),
      type: Type.String({ description: '`invalid_request_error`, `rate_limit_error`, `server_error`, ...' }),
      param: Nullable(Type.String()),
      code: Nullable(Type.String()),
    }),
  },
  { description: "OpenAI's error shape, used by every /v1 route." },
)

const Usage = Type.Object({
  input_tokens: Type.Integer(),
  output_tokens: Type.Integer(),
  cache_read_input_tokens: Type.Integer(),
  cache_creation_input_tokens: Type.Integer(),
  thinking_tokens: Type.Integer({
    description: 'Output tokens spent on thinking, when the CLI reports them.',
  }),
})

const STATES = ['new', 'starting', 'idle', 'running', 'hibernated', 'closed']
const PERMISSION_MODES = ['default', 'acceptEdits', 'bypassPermissions', 'plan', 'dontAsk']

const Session = Type.Object(
  {
    id: Type.String({ description: "The gateway's session id (a UUID)." }),
    title: Nullable(Type.String()),
    state: Enum(STATES),
    workspace: Type.String({ description: 'The real path of the folder Claude Code works in.' }),
    model: Nullable(Type.String({ description: "null: the CLI's default model." })),
    agent: Nullable(Type.String()),
    permission_mode: Enum(PERMISSION_MODES),
    claude_session_id: Nullable(
      Type.String({ description: "Claude Code's own session id; null until its first turn." }),
    ),
    runner: Nullable(
      Type.Object(
        { pid: Nullable(Type.Integer()), busy: Type.Boolean() },
        { description: 'The live Claude Code process serving the session; null when it has none.' },
      ),
    ),
    usage: Usage,
    cost_usd: Type.Number(),
    turns: Type.Integer(),
    settings: Type.Object({
      tools: Nullable(Type.Array(Type.String()), { description: "null: Claude Code's default tools." }),
      allowed_tools: Type.Array(Type.String()),
      disallowed_tools: Type.Array(Type.String()),
      system_prompt: Nullable(Type.String()),
      append_system_prompt: Nullable(Type.String()),
      thinking: Nullable(
        Type.Union(
          [
            Type.Object({ type: Type.Literal('enabled'), budgetTokens: Type.Integer() }),
            Type.Object({ type: Type.Literal('disabled') }),
            Type.Object({ type: Type.Literal('adaptive') }),
          ],
          { description: 'As stored: `budgetTokens` (the request field is `budget_tokens`).' },
        ),
      ),
      effort: NullableEnum(['low', 'medium', 'high', 'xhigh', 'max']),
      max_turns: Nullable(Type.Integer()),
      additional_directories: Type.Array(Type.String()),
      ask_permissions: Type.Boolean(),
    }),
    created_at: Type.String({ format: 'date-time' }),
    updated_at: Type.String({ format: 'date-time' }),
  },
  { description: 'A session: a durable record, served by a Claude Code process while it is live.' },
)

const SessionList = Type.Object({
  items: Type.Array(Type.Unsafe(ref('Session'))),
  total: Type.Integer({ description: 'Sessions matching the filters, all pages.' }),
  limit: Type.Integer(),
  offset: Type.Integer(),
})

const TurnToolCall = Type.Object({
  id: Type.String({ description: 'The tool_use id.' }),
  name: Type.String(),
  input: Type.Unknown(),
  parent_tool_use_id: Nullable(Type.String({ description: 'Set inside a subagent: the Task call.' })),
  status: Enum(['running', 'completed', 'error']),
  result: Type.Optional(
    Type.Union([
      Type.String(),
      Type.Array(Type.Object({ type: Type.String() }, { additionalProperties: true })),
    ]),
  ),
  is_error: Type.Optional(Type.Boolean()),
  duration_ms: Type.Optional(Nullable(Type.Number())),
})

const TurnResult = Type.Object(
  {
    turn_id: Type.String(),
    status: Enum(['success', 'error', 'interrupted']),
    text: Type.String({ description: "The main thread's text, text blocks separated by a blank line." }),
    result: Type.String({ description: "The CLI's final result text." }),
    thinking: Type.String(),
    tool_calls: Type.Array(TurnToolCall),
    usage: Usage,
    cost_usd: Type.Number(),
    duration_ms: Type.Number(),
    stop_reason: Nullable(Type.String()),
    structured_output: Type.Optional(Type.Unknown()),
    error: Type.Optional(
      Type.Object(
        { code: Type.String(), message: Type.String() },
        { description: 'Why the turn did not succeed (codes of docs/events.md).' },
      ),
    ),
  },
  { description: 'A finished turn (the answer when the request does not accept text/event-stream).' },
)

const Event = Type.Object(
  {
    type: Type.String(),
    seq: Type.Integer({ description: 'Per-session sequence number, from 1, without gaps.' }),
    ts: Type.Integer({ description: 'Milliseconds since the epoch.' }),
    sessionId: Type.String(),
  },
  {
    additionalProperties: true,
    description: 'A gateway event: the fields of its type plus this envelope (docs/events.md).',
  },
)

const ToolDescription = Type.Object({
  name: Enum(TOOL_NAMES),
  claude_code_name: Type.String({ description: 'The Claude Code tool with the same semantics.' }),
  description: Type.String(),
  input_schema: Type.Object({}, { additionalProperties: true, description: 'JSON Schema of the input.' }),
  endpoint: Type.String(),
})

const ReadResult = Type.Object(
  {
    filePath: Type.String({ description: "The file's real path." }),
    relativePath: Type.String(),
    content: Type.String({
      description: '`cat -n` format: line number right-aligned to 6, a tab, the text.',
    }),
    startLine: Type.Integer(),
    numLines: Type.Integer(),
    totalLines: Type.Integer(),
    truncated: Type.Boolean(),
    truncatedLines: Type.Integer(),
  },
  { title: 'read result' },
)

const WriteResult = Type.Object(
  {
    type: Enum(['create', 'update']),
    filePath: Type.String(),
    relativePath: Type.String(),
    originalFile: Nullable(Type.String()),
    originalOmitted: Type.Optional(
      Type.Boolean({ description: 'Present (true) when the previous content was binary or too large.' }),
    ),
  },
  { title: 'write result' },
)

const EditResult = Type.Object(
  {
    type: Enum(['create', 'update']),
    filePath: Type.String(),
    relativePath: Type.String(),
    originalFile: Nullable(Type.String()),
    updatedFile: Type.String(),
    replacements: Type.Integer(),
  },
  { title: 'edit result' },
)

const GlobResult = Type.Object(
  {
    filenames: Type.Array(Type.String()),
    numFiles: Type.Integer(),
    truncated: Type.Boolean(),
    durationMs: Type.Number(),
  },
  { title: 'glob result' },
)

const SearchResult = Type.Object(
  {
    mode: Enum(['files_with_matches', 'content', 'count']),
    filenames: Type.Array(Type.String()),
    numFiles: Type.Integer(),
    content: Type.Optional(Type.String()),
    numLines: Type.Optional(Type.Integer()),
    numMatches: Type.Optional(Type.Integer()),
    appliedLimit: Type.Integer(),
    appliedOffset: Type.Integer(),
    truncated: Type.Boolean(),
    timedOut: Type.Boolean(),
    filesSearched: Type.Integer(),
  },
  { title: 'search result' },
)

const BashResult = Type.Object(
  {
    stdout: Type.String(),
    stderr: Type.String(),
    exitCode: Nullable(Type.Integer()),
    signal: Nullable(Type.String()),
    timedOut: Type.Boolean(),
    aborted: Type.Boolean(),
    durationMs: Type.Number(),
    truncated: Type.Boolean(),
  },
  { title: 'bash result' },
)

const Health = Type.Object({
  status: Enum(['ok', 'degraded']),
  reason: Type.Optional(Nullable(Type.String({ description: 'Only when degraded: why.' }))),
  version: Type.String(),
  uptime_s: Type.Integer(),
  claude: Type.Object({
    path: Nullable(Type.String()),
    source: NullableEnum(['config', 'path', 'bundled']),
    version: Nullable(Type.String()),
    usable: Type.Boolean(),
    reason: Nullable(Type.String()),
  }),
  sessions: Type.Object({ total: Type.Integer(), active: Type.Integer() }),
  processes: Type.Object({
    live: Type.Integer(),
    serving: Type.Integer(),
    busy: Type.Integer(),
    spares: Type.Integer(),
    starting: Type.Integer(),
    queued: Type.Integer(),
    max: Type.Integer(),
  }),
})

const Model = Type.Object({
  id: Type.String(),
  object: Type.Literal('model'),
  created: Type.Integer(),
  owned_by: Type.String(),
})

const ModelList = Type.Object({ object: Type.Literal('list'), data: Type.Array(Type.Unsafe(ref('Model'))) })

const ChatCompletion = Type.Object(
  {
    id: Type.String(),
    object: Type.Literal('chat.completion'),
    created: Type.Integer(),
    model: Type.String(),
    choices: Type.Array(Type.Object({}, { additionalProperties: true })),
    usage: Type.Object({}, { additionalProperties: true }),
  },
  { additionalProperties: true, description: "OpenAI's chat.completion object; see docs/openai.md." },
)

const HistoryItem = Type.Object(
  {
    seq: Type.Integer(),
    ts: Type.String({ format: 'date-time' }),
    turn_id: Nullable(Type.String()),
    type: Enum([
      'user',
      'assistant',
      'tool_call',
      'tool_result',
      'file_change',
      'compaction',
      'conversation_reset',
      'error',
      'turn_completed',
    ]),
  },
  {
    additionalProperties: true,
    description: 'One item of the history; the other fields depend on `type` (docs/api.md).',
  },
)

const HistoryPage = Type.Object({
  session_id: Type.String(),
  items: Type.Array(Type.Unsafe(ref('HistoryItem'))),
  next_after: Type.Integer({ description: 'Pass as `after` for the next page.' }),
  has_more: Type.Boolean(),
})

const MemoryFile = Type.Object({
  scope: Enum(['project', 'local', 'user']),
  path: Type.String(),
  content: Nullable(Type.String({ description: 'null: the file does not exist.' })),
  size: Type.Integer({ description: 'Bytes; 0 when absent.' }),
  truncated: Type.Boolean({ description: 'Only the first 1 MiB is in `content`.' }),
})

/** The document's shared schemas (`#/components/schemas/<name>`); exported for the tests. */
export const SCHEMAS = {
  NativeError,
  OpenAIError,
  Usage,
  Session,
  SessionList,
  TurnResult,
  Event,
  ToolDescription,
  ReadResult,
  WriteResult,
  EditResult,
  GlobResult,
  SearchResult,
  BashResult,
  Health,
  Model,
  ModelList,
  ChatCompletion,
  HistoryItem,
  HistoryPage,
  MemoryFile,
} satisfies Record<string, TSchema>

/** The schema of each direct tool's result, by tool name. */
export const TOOL_RESULT_SCHEMAS = {
  read: 'ReadResult',
  write: 'WriteResult',
  edit: 'EditResult',
  glob: 'GlobResult',
  search: 'SearchResult',
  bash: 'BashResult',
} as const satisfies Record<(typeof TOOL_NAMES)[number], keyof typeof SCHEMAS>

// ---- Responses ----------------------------------------------------------------------------------------

const RETRY_AFTER = {
  'retry-after': { type: 'integer', description: 'Seconds to wait before trying again.' },
}

const json = (description: string, schema: Json) => ({
  description,
  content: { 'application/json': { schema } },
})

const eventStream = (description: string) => ({
  schema: {
    type: 'string',
    description,
    example:
      ': connected\n\nid: 3\nevent: turn.started\ndata: {"type":"turn.started","turnId":"…","content":"Hi","seq":3,"ts":1764167775000,"sessionId":"…"}\n\n',
  },
})

/** Native error responses: each status with the codes it carries. */
function nativeErrors(statuses: Record<number, string>): Record<string, Json> {
  const out: Record<string, Json> = {}
  for (const [status, codes] of Object.entries(statuses)) {
    // Retry-After comes with session_busy (409), 429 and 503; not with the other 409s (conflict).
    const retry = status === '429' || status === '503' || codes.startsWith('session_busy')
    out[status] = {
      ...json(codes, ref('NativeError')),
      ...(retry ? { headers: RETRY_AFTER } : {}),
    }
  }
  return out
}

function openaiErrors(statuses: Record<number, string>): Record<string, Json> {
  const out: Record<string, Json> = {}
  for (const [status, description] of Object.entries(statuses)) {
    const retry = status === '409' || status === '429' || status === '503'
    out[status] = { ...json(description, ref('OpenAIError')), ...(retry ? { headers: RETRY_AFTER } : {}) }
  }
  return out
}

/** Every /api route can answer these. */
const NATIVE_COMMON = {
  401: 'unauthorized: API keys are configured and the request has none of them.',
  500: 'internal: an unexpected failure in the gateway.',
}
const BODY_ERRORS = {
  400: 'validation_error (the body does not match the schema; `field` names it) or invalid_json.',
  413: 'payload_too_large: more than server.bodyLimitBytes.',
  415: 'unsupported_media_type: the body is neither application/json nor text/plain.',
}
const SESSION_NOT_FOUND = { 404: 'not_found: no such session, or it is closed.' }

interface Operation {
  operationId: string
  tags: string[]
  summary: string
  description?: string
  /** Documentation only: a body the route validates itself. */
  body?: Json
  /** Documentation only: path parameters the route validates itself. */
  params?: Json
  /** Documentation only: headers the route reads. */
  headers?: Json
  response: Record<string, Json>
  /** Overrides the document's security (e.g. `[]` for routes open to everyone). */
  security?: Record<string, string[]>[]
}

/** What a WebSocket route answers: the upgrade, a plain request, and the usual errors. */
const SOCKET_RESPONSES = {
  101: { description: 'Switching Protocols: the socket is open.', type: 'null' },
  404: { description: 'A request that is not a WebSocket upgrade (empty body).', type: 'null' },
  ...nativeErrors({
    400: 'validation_error: a query parameter is invalid or unknown.',
    ...NATIVE_COMMON,
  }),
}

const OPERATIONS: Record<string, Operation> = {
  'POST /api/sessions': {
    operationId: 'createSession',
    tags: ['sessions'],
    summary: 'Create a session',
    description:
      'Creates the session record; no Claude Code process starts until its first message. Every field is ' +
      'optional: the configured defaults apply. `workspace` and `additional_directories` must be under ' +
      '`native.workspaceRoots`.',
    response: {
      201: json('The session.', ref('Session')),
      ...nativeErrors({ ...BODY_ERRORS, ...NATIVE_COMMON }),
    },
  },
  'GET /api/sessions': {
    operationId: 'listSessions',
    tags: ['sessions'],
    summary: 'List sessions',
    description:
      'Most recently updated first; closed sessions are included unless filtered out with `state`.',
    response: {
      200: json('A page of sessions.', ref('SessionList')),
      ...nativeErrors({
        400: 'validation_error: a query parameter is invalid or unknown.',
        ...NATIVE_COMMON,
      }),
    },
  },
  'GET /api/sessions/:id': {
    operationId: 'getSession',
    tags: ['sessions'],
    summary: 'Read a session',
    response: {
      200: json('The session.', ref('Session')),
      ...nativeErrors({ ...SESSION_NOT_FOUND, ...NATIVE_COMMON }),
    },
  },
  'DELETE /api/sessions/:id': {
    operationId: 'deleteSession',
    tags: ['sessions'],
    summary: 'Close or purge a session',
    description:
      'Stops its process (a running turn ends as interrupted) and closes the session; `purge=true` also ' +
      'deletes its record and events.',
    response: {
      204: { description: 'Closed (or purged).', type: 'null' },
      ...nativeErrors({
        400: 'validation_error: a query parameter is invalid or unknown.',
        404: 'not_found: no such session.',
        ...NATIVE_COMMON,
      }),
    },
  },
  'PUT /api/sessions/:id/context': {
    operationId: 'updateSessionContext',
    tags: ['sessions'],
    summary: "Change a session's settings",
    description:
      'Only the fields given change. A live process is let go (at once when idle, else after its turn) and ' +
      'the next message resumes the conversation with the new settings.',
    response: {
      200: json('The session with its new settings.', ref('Session')),
      ...nativeErrors({ ...BODY_ERRORS, ...SESSION_NOT_FOUND, ...NATIVE_COMMON }),
    },
  },
  'POST /api/sessions/:id/interrupt': {
    operationId: 'interruptSession',
    tags: ['sessions'],
    summary: 'Interrupt the running turn',
    description: 'The turn ends with status `interrupted`. No body.',
    response: {
      200: json(
        'Whether a turn was running.',
        plain(Type.Object({ interrupted: Type.Boolean({ description: 'false: nothing was running.' }) })),
      ),
      ...nativeErrors({ ...SESSION_NOT_FOUND, ...NATIVE_COMMON }),
    },
  },
  'POST /api/sessions/:id/messages': {
    operationId: 'sendMessage',
    tags: ['sessions'],
    summary: 'Send a message (one turn)',
    description:
      'Starts a turn. With `Accept: text/event-stream` the turn streams as server-sent events (this turn ' +
      'only, ending after its `turn.completed`); otherwise the answer is the finished turn. A message to a ' +
      'busy session waits for the running turn (up to `pool.sessionQueueSize` waiting messages, then ' +
      '409). Failures after the turn started are reported in the answer (`status`, `error`), not as HTTP ' +
      'errors. Closing the connection early interrupts the turn.',
    response: {
      200: {
        description: 'The finished turn, or its events.',
        content: {
          'application/json': { schema: ref('TurnResult') },
          'text/event-stream': eventStream(
            'The turn\'s events: `id` = seq, `event` = type, `data` = the event JSON (components "Event").',
          ),
        },
      },
      ...nativeErrors({
        ...BODY_ERRORS,
        ...SESSION_NOT_FOUND,
        409: "session_busy: too many messages already wait behind this session's running turn.",
        429: 'busy: every Claude Code process is busy and the wait queue is full.',
        ...NATIVE_COMMON,
        503: 'unavailable (no usable CLI), start_failed, shutting_down.',
      }),
    },
  },
  'GET /api/sessions/:id/events': {
    operationId: 'followEvents',
    tags: ['sessions'],
    summary: "Follow a session's events",
    headers: plain(
      Type.Object({
        'last-event-id': Type.Optional(
          Type.Integer({
            minimum: 0,
            description:
              'The last `id` received (set by EventSource on reconnect); takes precedence over `after`.',
          }),
        ),
      }),
    ),
    description:
      'Server-sent events: the stored events after `Last-Event-ID` (or `after`), then the live ones, with ' +
      'no gap and no duplicate. `: heartbeat` comments every `native.heartbeatMs`. A subscriber more than ' +
      '`native.maxBufferedBytes` behind gets a last `event: error` (`slow_consumer`) and is disconnected.',
    response: {
      200: {
        description: 'The event stream; it stays open until the client closes it.',
        content: {
          'text/event-stream': eventStream(
            '`id` = seq, `event` = type, `data` = the event JSON (components "Event").',
          ),
        },
      },
      ...nativeErrors({
        400: 'validation_error: a query parameter is invalid or unknown.',
        ...SESSION_NOT_FOUND,
        ...NATIVE_COMMON,
      }),
    },
  },
  'GET /api/sessions/:id/stream': {
    operationId: 'sessionSocket',
    tags: ['sessions'],
    summary: 'A session over a WebSocket',
    description:
      'WebSocket (the request upgrades). The server sends each event as a JSON text message: those after ' +
      '`after`, or from now without it, then the live ones. The client sends ' +
      '`{"type": "message", "content", "request_id"?}`, `{"type": "interrupt", "request_id"?}` or ' +
      '`{"type": "permission", "permission_request_id", "behavior": "allow"|"deny", "updated_input"?, ' +
      '"message"?, "request_id"?}`; each is answered by `{"type": "ack", "request_id", ...}` or ' +
      '`{"type": "error", "code", "message", "request_id"}` (no `seq`, unlike events). Close codes: 4404 no ' +
      'such session, 1008 `slow_consumer` (more than `native.maxBufferedBytes` behind).',
    response: SOCKET_RESPONSES,
  },
  'GET /api/sessions/:id/tools/stream': {
    operationId: 'toolSocket',
    tags: ['tools'],
    summary: "A session's tool calls over a WebSocket",
    description:
      'WebSocket, read-only: `tool.call`, `tool.result`, `file.changed`, `permission.requested` and ' +
      '`permission.resolved` events as JSON text messages (after `after`, or from now). Anything the client ' +
      'sends is answered by `{"type": "error", "code": "read_only"}`. Close codes as for /stream.',
    response: SOCKET_RESPONSES,
  },
  'GET /api/sessions/:id/history': {
    operationId: 'getHistory',
    tags: ['sessions'],
    summary: "A session's history",
    description:
      'The conversation as it happened, from the event log, without token deltas, state changes and ' +
      'retries; paged by sequence number (`next_after`, `has_more`).',
    response: {
      200: json('A page of history items.', ref('HistoryPage')),
      ...nativeErrors({
        400: 'validation_error: a query parameter is invalid or unknown.',
        ...SESSION_NOT_FOUND,
        ...NATIVE_COMMON,
      }),
    },
  },
  'POST /api/sessions/:id/export': {
    operationId: 'exportSession',
    tags: ['sessions'],
    summary: "Export a session's history",
    description: 'The whole history as a download (Content-Disposition: attachment), in the format asked.',
    response: {
      200: {
        description: 'The export.',
        content: {
          'application/json': {
            schema: plain(
              Type.Object({
                session: Type.Unsafe(ref('Session')),
                exported_at: Type.String({ format: 'date-time' }),
                items: Type.Array(Type.Unsafe(ref('HistoryItem'))),
              }),
            ),
          },
          'text/markdown': { schema: { type: 'string' } },
          'text/html': { schema: { type: 'string' } },
        },
      },
      ...nativeErrors({ ...BODY_ERRORS, ...SESSION_NOT_FOUND, ...NATIVE_COMMON }),
    },
  },
  'POST /api/sessions/:id/thinking': {
    operationId: 'setThinking',
    tags: ['sessions'],
    summary: "Set a session's thinking",
    description: 'For its next turns; the same as PUT /context with `thinking`.',
    response: {
      200: json('The session with its new settings.', ref('Session')),
      ...nativeErrors({ ...BODY_ERRORS, ...SESSION_NOT_FOUND, ...NATIVE_COMMON }),
    },
  },
  'GET /api/sessions/:id/memory': {
    operationId: 'getMemory',
    tags: ['sessions'],
    summary: "Claude Code's memory files (CLAUDE.md) for a session",
    response: {
      200: json(
        'The project, local and user memory files.',
        plain(Type.Object({ files: Type.Array(Type.Unsafe(ref('MemoryFile'))) })),
      ),
      ...nativeErrors({ ...SESSION_NOT_FOUND, ...NATIVE_COMMON }),
    },
  },
  'POST /api/sessions/:id/memory': {
    operationId: 'writeMemory',
    tags: ['sessions'],
    summary: 'Add to or replace a memory file',
    description:
      "`add` appends like Claude Code's `#` shortcut; `replace` writes the whole file. The session's process " +
      'is let go so that its next turn reads the new memory.',
    response: {
      200: json('The file after the write.', ref('MemoryFile')),
      ...nativeErrors({
        ...BODY_ERRORS,
        ...SESSION_NOT_FOUND,
        409: 'conflict: the file is a folder, or a symlink leading out of its folder.',
        413: 'payload_too_large: the file would hold more than 1 MiB, or the body is over server.bodyLimitBytes.',
        ...NATIVE_COMMON,
      }),
    },
  },
  'GET /api/tools': {
    operationId: 'listTools',
    tags: ['tools'],
    summary: 'Describe the direct tools',
    response: {
      200: json(
        'The tools, with their input schemas.',
        plain(Type.Object({ tools: Type.Array(Type.Unsafe(ref('ToolDescription'))) })),
      ),
      ...nativeErrors(NATIVE_COMMON),
    },
  },
  'POST /api/sessions/:id/tools/:name': {
    operationId: 'runTool',
    tags: ['tools'],
    summary: "Run a direct tool in the session's workspace",
    description:
      'The body is the input of the tool named in the path (`GET /api/tools` gives each schema). Paths are ' +
      "confined to the session's workspace. The call and its result are recorded as the session's " +
      '`tool.call` / `tool.result` (and `file.changed`) events. Closing the connection early stops the tool.',
    params: plain(
      Type.Object({
        id: Type.String({ minLength: 1, description: 'The session.' }),
        name: Enum(TOOL_NAMES, { description: 'The tool.' }),
      }),
    ),
    body: {
      description: 'The input of the tool named in the path.',
      oneOf: describeTools().map(({ name, inputSchema }) => ({
        ...plain(inputSchema),
        title: `${name} input`,
      })),
    },
    response: {
      200: json('The result of the tool named in the path.', {
        oneOf: Object.values(TOOL_RESULT_SCHEMAS).map((name) => ref(name)),
      }),
      ...nativeErrors({
        400: 'invalid_input: the input does not match the tool (`field` names it), or a path is a folder or binary; invalid_json.',
        403: 'path_outside_workspace, permission_denied.',
        404: 'not_found: no such session (or closed), no such tool, or no such file.',
        413: 'too_large: a file (or write content) over its limit; payload_too_large: body over server.bodyLimitBytes.',
        415: 'unsupported_media_type.',
        422: 'edit: not_unique (old_string occurs more than once), no_match (it does not occur).',
        504: 'timeout: search did not finish within tools.searchTimeoutMs.',
        ...NATIVE_COMMON,
      }),
    },
  },
  'GET /api/openapi.json': {
    operationId: 'getOpenApi',
    tags: ['health'],
    summary: 'This document',
    response: {
      200: json('The OpenAPI document.', { type: 'object', additionalProperties: true }),
      ...nativeErrors(NATIVE_COMMON),
    },
  },
  'GET /v1/health': {
    operationId: 'health',
    tags: ['health'],
    summary: "The gateway's health",
    description: 'Never calls the model; open without an API key (for load balancers and probes).',
    security: [],
    response: { 200: json('ok, or degraded with the reason.', ref('Health')) },
  },
  'GET /v1/models': {
    operationId: 'listModels',
    tags: ['openai'],
    summary: 'List models',
    response: {
      200: json('The model ids clients may ask for.', ref('ModelList')),
      ...openaiErrors({ 401: 'invalid_api_key.' }),
    },
  },
  'GET /v1/models/:id': {
    operationId: 'getModel',
    tags: ['openai'],
    summary: 'Read a model',
    response: {
      200: json('The model.', ref('Model')),
      ...openaiErrors({ 401: 'invalid_api_key.', 404: 'model_not_found.' }),
    },
  },
  'POST /v1/chat/completions': {
    operationId: 'createChatCompletion',
    tags: ['openai'],
    summary: 'Chat completion (one Claude Code turn)',
    description:
      "OpenAI's Chat Completions contract; Claude Code options in extra_body. Reference: docs/openai.md.",
    response: {
      200: {
        description:
          'A chat.completion, or with `stream: true` chat.completion.chunk events ending in [DONE].',
        content: {
          'application/json': { schema: ref('ChatCompletion') },
          'text/event-stream': {
            schema: {
              type: 'string',
              description: '`data: {chat.completion.chunk}` lines, then `data: [DONE]`.',
            },
          },
        },
      },
      ...openaiErrors({
        400: 'invalid_request_error: invalid or unsupported parameter, invalid JSON, context length exceeded.',
        401: 'invalid_api_key.',
        404: 'model_not_found.',
        409: 'conversation_busy.',
        413: 'request_too_large.',
        415: 'unsupported_media_type.',
        429: 'rate_limit_exceeded: every process busy, or the model API rate-limited.',
        500: 'server_error.',
        502: 'upstream_process_exited, upstream_error.',
        503: 'service_unavailable, overloaded.',
        504: 'timeout, tool_call_timeout.',
      }),
    },
  },
}

const TAGS = [
  { name: 'sessions', description: 'Sessions and their turns, events and context (native API, /api).' },
  { name: 'tools', description: "The gateway's direct tools, run in a session's workspace (native API)." },
  { name: 'openai', description: 'The OpenAI-compatible API (/v1); reference: docs/openai.md.' },
  { name: 'health', description: "The gateway's health, and this description of its API." },
]

const SECURITY_SCHEMES = {
  bearerAuth: {
    type: 'http',
    scheme: 'bearer',
    description:
      'One of server.apiKeys, as `Authorization: Bearer KEY`. Not needed when no keys are configured.',
  },
  apiKeyHeader: {
    type: 'apiKey',
    in: 'header',
    name: 'x-api-key',
    description: 'The same key in the `x-api-key` header instead.',
  },
}

/** Who may call: one of the keys when keys are configured; anyone (the empty requirement) when not. */
export function securityFor(keysConfigured: boolean): Record<string, string[]>[] {
  const keyed: Record<string, string[]>[] = [{ bearerAuth: [] }, { apiKeyHeader: [] }]
  return keysConfigured ? keyed : [...keyed, {}]
}

/** The document's view of one route: the route's own schema plus what OPERATIONS says about it. */
function describeRoute(schema: FastifySchema | undefined, url: string, route: RouteOptions): FastifySchema {
  const methods = Array.isArray(route.method) ? route.method : [route.method]
  const operation = methods.map((method) => OPERATIONS[`${method} ${url}`]).find(Boolean)
  // Nothing is hidden: @fastify/websocket marks its routes `hide`, yet they are part of the API.
  const base = { ...(schema ?? {}), hide: false } as Json
  if (!operation) {
    // A route this file does not know yet: documented from its own schema, under the tag of its family.
    const tag = url.startsWith('/v1/health')
      ? 'health'
      : url.startsWith('/v1')
        ? 'openai'
        : /^\/api\/(tools|sessions\/:id\/tools)/.test(url)
          ? 'tools'
          : 'sessions'
    const websocket = (route as { websocket?: boolean }).websocket === true
    return {
      ...base,
      tags: [tag],
      ...(websocket ? { description: 'A WebSocket: the request upgrades (HTTP 101).' } : {}),
    } as FastifySchema
  }
  const { body, params, headers, ...rest } = operation
  return {
    ...base,
    ...rest,
    ...(body && !base.body ? { body } : {}),
    ...(params ? { params } : {}),
    ...(headers && !base.headers ? { headers } : {}),
  } as FastifySchema
}

/**
 * Registers @fastify/swagger on the root app. Call it before any route: it sees only the routes registered
 * after it.
 */
export async function registerOpenApi(app: FastifyInstance): Promise<void> {
  await app.register(swagger, {
    mode: 'dynamic',
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'Claude Code Gateway',
        version: VERSION,
        description:
          'Claude Code behind an API: the native session API under /api (docs/api.md) and an ' +
          'OpenAI-compatible provider under /v1 (docs/openai.md).',
        license: { name: 'MIT' },
      },
      tags: TAGS,
      components: {
        securitySchemes: SECURITY_SCHEMES,
        schemas: Object.fromEntries(Object.entries(SCHEMAS).map(([name, schema]) => [name, plain(schema)])),
      } as never,
      // Replaced when served, by the live configuration's (see openapiRoutes).
      security: securityFor(true),
    },
    transform: ({ schema, url, route }) => ({ schema: describeRoute(schema, url, route), url }),
  })
}

/**
 * `GET /openapi.json`, registered inside the /api plugin so that its key check applies. The document is
 * built once; its `security` follows the live configuration (keys can be added or removed by a reload).
 */
export const openapiRoutes: FastifyPluginAsync<{ gateway: GatewayContext }> = async (app, { gateway }) => {
  const rendered = new Map<boolean, string>()
  app.get('/openapi.json', async (_request, reply) => {
    const keyed = gateway.config.server.apiKeys.length > 0
    let body = rendered.get(keyed)
    if (body === undefined) {
      body = JSON.stringify({ ...app.swagger(), security: securityFor(keyed) })
      rendered.set(keyed, body)
    }
    return reply.type('application/json; charset=utf-8').send(body)
  })
}
