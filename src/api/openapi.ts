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
import { PERMISSION_MODES } from '../store/types.js'
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

const STATES = ['new', 'starting', 'idle', 'running', 'hibernated', 'paused', 'closed']

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

/** What a tool call returned to the model: text, or content blocks in Anthropic's shape. */
const ToolResultContent = Type.Union([
  Type.String(),
  Type.Array(Type.Object({ type: Type.String() }, { additionalProperties: true })),
])

const TurnToolCall = Type.Object({
  id: Type.String({ description: 'The tool_use id.' }),
  name: Type.String(),
  input: Type.Unknown(),
  parent_tool_use_id: Nullable(Type.String({ description: 'Set inside a subagent: the Task call.' })),
  status: Enum(['running', 'completed', 'error']),
  result: Type.Optional(ToolResultContent),
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
    path: Type.Optional(Nullable(Type.String({ description: 'Only to a caller with an API key.' }))),
    source: NullableEnum(['config', 'path', 'bundled']),
    version: Nullable(Type.String()),
    usable: Type.Boolean(),
    reason: Type.Optional(Nullable(Type.String({ description: 'Only to a caller with an API key.' }))),
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
  store: Type.Object(
    {
      ok: Type.Boolean(),
      error: Type.Optional(Enum(['storage_full', 'storage_unavailable'])),
      message: Type.Optional(Type.String({ description: 'Only to a caller with an API key.' })),
      since: Type.Optional(
        Type.String({ format: 'date-time', description: 'When the database started failing.' }),
      ),
    },
    { description: "The gateway's database: only while it fails, why and since when." },
  ),
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
  error: Type.Optional(
    Type.String({
      description:
        'Why an existing file is not shown (`content` null): a symlink leading out of its folder, which the ' +
        'gateway neither reads nor writes.',
    }),
  ),
})

const FILE_COMMAND_SOURCES = ['skill-user', 'skill-project', 'user', 'project']

const Command = Type.Object(
  {
    name: Type.String({ description: 'Without the slash; `folder:name` for a command file in a subfolder.' }),
    description: Type.String(),
    argument_hint: Type.String({ description: 'What the arguments look like; empty when it takes none.' }),
    aliases: Type.Array(Type.String(), { description: 'Other names that run it.' }),
    source: Enum([...FILE_COMMAND_SOURCES, 'gateway', 'builtin', 'plugin'], {
      description: 'Where it comes from, in order of precedence (docs/api.md).',
    }),
    path: Nullable(
      Type.String({ description: "The file that defines it; null for the gateway's and Claude Code's own." }),
    ),
    loaded: Type.Boolean({ description: 'It can run: Claude Code loads the scope of its file.' }),
    overridden: Type.Boolean({ description: 'A loaded command of higher precedence has the same name.' }),
  },
  { description: 'A slash command.' },
)

const CommandList = Type.Object({
  workspace: Nullable(
    Type.String({ description: 'The workspace whose project commands are listed; null: none.' }),
  ),
  commands: Type.Array(Type.Unsafe(ref('Command'))),
  builtins_reported: Type.Boolean({
    description: 'A Claude Code process has reported its own commands (else they are not listed yet).',
  }),
})

const CommandRun = Type.String({ description: 'The command run (an alias resolved to its name).' })

const GatewayCommandResult = Type.Object(
  {
    command: CommandRun,
    source: Type.Literal('gateway'),
    output: Type.String({ description: 'What the command shows, as Claude Code would print it.' }),
    data: Type.Unknown({ description: 'The same, as the routes the command uses answered it.' }),
  },
  { title: 'gateway command result', description: 'A command the gateway ran itself; no turn ran.' },
)

const CommandTurnResult = Type.Composite(
  [
    Type.Object({
      command: CommandRun,
      source: NullableEnum([...FILE_COMMAND_SOURCES, 'builtin', 'plugin']),
      output: Type.String({ description: "What Claude Code printed for it (the turn's `result`)." }),
    }),
    TurnResult,
  ],
  {
    title: 'command turn result',
    description:
      'A command Claude Code ran, as a turn of the session. `source` is null for a name passed on before ' +
      'Claude Code reported its commands.',
  },
)

const TOOL_CALL_STATUSES = ['running', 'succeeded', 'failed', 'denied', 'interrupted', 'timeout']

const ToolCall = Type.Object(
  {
    id: Type.String({ description: 'The tool_use id (`direct_…` for a direct call).' }),
    seq: Type.Integer({ description: 'Sequence number of its `tool.call` event.' }),
    name: Type.String(),
    input: Type.Unknown({ description: 'The input Claude (or the API client) gave.' }),
    status: Enum(TOOL_CALL_STATUSES),
    caller: Enum(['main', 'subagent', 'direct'], {
      description: "Claude's main conversation, a subagent, or an API client (a direct tool).",
    }),
    agent: Nullable(
      Type.String({
        description: "The main agent or the subagent's type; null: Claude Code's own, or direct.",
      }),
    ),
    parent_tool_use_id: Nullable(Type.String({ description: 'Inside a subagent: the Task call.' })),
    turn_id: Type.String({ description: '`direct-…` for a direct call.' }),
    result: Nullable(
      Type.Object(
        {
          content: ToolResultContent,
          is_error: Type.Boolean(),
          structured: Type.Optional(Type.Unknown({ description: "The tool's own output, when reported." })),
        },
        { description: 'null until the call has one.' },
      ),
    ),
    permission: Nullable(
      Type.Object(
        {
          request_id: Type.String(),
          behavior: NullableEnum(['allow', 'deny']),
          by: NullableEnum(['client', 'rule', 'timeout', 'interrupt']),
          message: Type.Optional(Type.String({ description: "A denial's message." })),
          reason: Type.Optional(Type.String({ description: 'Why Claude Code asked.' })),
        },
        { description: 'null when no permission request was made; `behavior` null while it waits.' },
      ),
    ),
    started_at: Type.String({ format: 'date-time' }),
    finished_at: Nullable(Type.String({ format: 'date-time' })),
    duration_ms: Nullable(Type.Number()),
  },
  { description: "One of a session's tool calls, read from its event log." },
)

const ToolCallPage = Type.Object({
  items: Type.Array(Type.Unsafe(ref('ToolCall'))),
  total: Type.Integer({ description: 'Calls matching the filters, all pages.' }),
  limit: Type.Integer(),
  offset: Type.Integer(),
})

const ToolPermissions = Type.Object({
  permission_mode: Enum(PERMISSION_MODES),
  allowed_tools: Type.Array(Type.String()),
  disallowed_tools: Type.Array(Type.String()),
  ask_permissions: Type.Boolean(),
})

const PermissionRequest = Type.Object(
  {
    request_id: Type.String(),
    tool_use_id: Type.String(),
    tool_name: Type.String(),
    input: Type.Unknown(),
    reason: Type.Optional(Type.String({ description: 'Why Claude Code asks, when it says.' })),
    turn_id: Type.String(),
    requested_at: Type.String({ format: 'date-time' }),
    expires_at: Nullable(
      Type.String({ format: 'date-time', description: 'When it is denied unanswered; null: never.' }),
    ),
  },
  { description: 'A permission request waiting for an answer.' },
)

const FileEntry = Type.Object(
  {
    name: Type.String(),
    path: Type.String({ description: 'Relative to the workspace.' }),
    type: Enum(['file', 'dir', 'symlink']),
    size: Nullable(Type.Integer({ description: "Bytes (a symlink's: its target's); null for a folder." })),
    modified_at: Type.String({ format: 'date-time' }),
    target: Type.Optional(Type.String({ description: "A symlink's target, relative to the workspace." })),
    children: Type.Optional(
      Type.Array(Type.Unsafe(ref('FileEntry')), {
        description: 'In a tree: the entries of a folder less than `depth` levels down.',
      }),
    ),
  },
  { description: 'A file, folder or symlink of a workspace.' },
)

const FileListing = Type.Object({
  path: Type.String({ description: 'The folder listed, relative to the workspace.' }),
  entries: Type.Array(Type.Unsafe(ref('FileEntry'))),
  truncated: Type.Boolean({ description: 'There were more than `native.filesListMaxEntries` entries.' }),
})

const Upload = Type.Object({
  path: Type.String({ description: 'The folder uploaded into, relative to the workspace.' }),
  files: Type.Array(
    Type.Object({
      path: Type.String({ description: 'Relative to the workspace.' }),
      size: Type.Integer(),
      sha256: Type.String({ description: 'Hex.' }),
      created: Type.Boolean({ description: 'false: it replaced a file.' }),
    }),
  ),
})

const ProjectInit = Type.Object({
  turn: Type.Unsafe(ref('TurnResult')),
  claude_md: Type.Object({
    path: Type.String(),
    exists: Type.Boolean(),
    written: Type.Boolean({ description: 'The turn wrote it.' }),
    created: Type.Boolean({ description: 'The turn wrote it and it did not exist before.' }),
    size: Type.Integer({ description: 'Bytes; 0 when absent.' }),
  }),
})

const ClaudeSession = Type.Object(
  {
    claude_session_id: Type.String(),
    summary: Type.String({
      description: 'Its title in Claude Code, else its summary, else its first prompt.',
    }),
    title: Nullable(Type.String({ description: 'The title given in Claude Code (`/rename`).' })),
    first_prompt: Nullable(Type.String()),
    git_branch: Nullable(Type.String()),
    created_at: Nullable(Type.String({ format: 'date-time' })),
    last_modified: Type.String({ format: 'date-time' }),
    file_size: Nullable(Type.Integer()),
  },
  { description: 'A conversation Claude Code keeps for a folder (its transcript).' },
)

const ClaudeSessionPage = Type.Object({
  workspace: Type.String({ description: 'The real path of the folder.' }),
  items: Type.Array(Type.Unsafe(ref('ClaudeSession'))),
  limit: Type.Integer(),
  offset: Type.Integer(),
  has_more: Type.Boolean(),
})

const AgentListItem = Type.Object(
  {
    name: Type.String(),
    description: Nullable(Type.String()),
    tools: Nullable(Type.Array(Type.String()), { description: 'null: every tool.' }),
    model: Nullable(Type.String()),
    scope: Enum(['user', 'project', 'builtin']),
    path: Nullable(Type.String({ description: "The agent file; null for Claude Code's own agents." })),
    loaded: Type.Boolean({ description: 'Claude Code loads it: its scope is loaded and the file is valid.' }),
    overridden: Type.Boolean({ description: 'A definition of higher precedence has the same name.' }),
    error: Type.Optional(Type.String({ description: 'Why Claude Code would not load the file.' })),
  },
  { description: "An agent: one of an agent file, or one of Claude Code's own." },
)

const NullableNames = Nullable(Type.Array(Type.String()))
const AgentConfig = Type.Object(
  {
    name: Type.String(),
    scope: Enum(['user', 'project']),
    path: Type.String(),
    description: Nullable(Type.String()),
    prompt: Type.String({ description: "The system prompt (the file's body)." }),
    tools: NullableNames,
    disallowed_tools: NullableNames,
    model: Nullable(Type.String()),
    color: Nullable(Type.String()),
    permission_mode: NullableEnum([...PERMISSION_MODES, 'auto']),
    effort: Nullable(Type.Union([Enum(['low', 'medium', 'high', 'xhigh', 'max']), Type.Integer()])),
    max_turns: Nullable(Type.Integer()),
    auto_compact_window: Nullable(Type.Integer()),
    skills: NullableNames,
    mcp_servers: Nullable(
      Type.Array(Type.Union([Type.String(), Type.Object({}, { additionalProperties: true })])),
    ),
    initial_prompt: Nullable(Type.String()),
    background: Nullable(Type.Boolean()),
    omit_claude_md: Nullable(Type.Boolean()),
    memory: NullableEnum(['user', 'project', 'local']),
    isolation: NullableEnum(['worktree', 'remote']),
    observer: Nullable(Type.String()),
    observer_message: Nullable(Type.String()),
    hooks: Nullable(Type.Object({}, { additionalProperties: true })),
    other_front_matter: Type.Object(
      {},
      { additionalProperties: true, description: 'Other front matter keys.' },
    ),
    error: Type.Optional(Type.String({ description: 'Why Claude Code would not load the file.' })),
  },
  { description: 'An agent file with every setting (null: not set), as the file has them.' },
)

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
  Command,
  CommandList,
  GatewayCommandResult,
  CommandTurnResult,
  ToolCall,
  ToolCallPage,
  ToolPermissions,
  PermissionRequest,
  FileEntry,
  FileListing,
  Upload,
  ProjectInit,
  ClaudeSession,
  ClaudeSessionPage,
  AgentListItem,
  AgentConfig,
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
    // Retry-After comes with session_busy (409), 429, 503 and 507; not with the other 409s (conflict).
    const retry = status === '429' || status === '503' || status === '507' || codes.startsWith('session_busy')
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
    const retry = status === '409' || status === '429' || status === '503' || status === '507'
    out[status] = { ...json(description, ref('OpenAIError')), ...(retry ? { headers: RETRY_AFTER } : {}) }
  }
  return out
}

/** Every /api route can answer these. */
const NATIVE_COMMON = {
  401: 'unauthorized: API keys are configured and the request has none of them.',
  500: 'internal: an unexpected failure in the gateway.',
  507: "storage_full: the gateway's database has no space left; nothing was changed (503 storage_unavailable when it cannot be used at all).",
}
const BODY_ERRORS = {
  400: 'validation_error (the body does not match the schema; `field` names it), invalid_json, or json_too_deep (nested deeper than server.maxJsonDepth).',
  413: 'payload_too_large: more than server.bodyLimitBytes.',
  415: 'unsupported_media_type: the body is neither application/json nor text/plain.',
}
const SESSION_NOT_FOUND = { 404: 'not_found: no such session, or it is closed.' }
/** Why a turn cannot start (once it has, its failures are in its answer). */
const TURN_START_ERRORS = {
  409:
    "session_busy: too many messages already wait behind this session's running turn; session_paused: " +
    'the session is paused (resume it first).',
  429:
    'busy: every Claude Code process is busy and the wait queue is full; rate_limited: the model API ' +
    'rate-limited the turn before it produced anything (answered turns).',
  503:
    'unavailable (no usable CLI), start_failed, shutting_down; overloaded: the model API failed the turn ' +
    "before it produced anything, past Claude Code's retries or pool.retryBudgetMs (answered turns).",
  401:
    `${NATIVE_COMMON[401]} upstream_auth_failed: the model API refused the credentials Claude Code runs ` +
    'with (answered turns).',
}
const QUERY_ERRORS = { 400: 'validation_error: a query parameter is invalid or unknown.' }
/** The errors of the routes on one agent file (`scope` and `workspace` in the query). */
const AGENT_FILE_ERRORS = {
  400: 'validation_error: a query parameter is invalid or unknown, `scope=project` without `workspace`, or a workspace not under native.workspaceRoots.',
  403: 'path_outside_scope: the file leads out of its scope.',
  404: 'not_found: no such agent file.',
  409: 'ambiguous: both scopes have the name and no `scope` was given.',
  422: 'invalid_agent_file: the file cannot be read as an agent file.',
  ...NATIVE_COMMON,
}

interface Operation {
  operationId: string
  tags: string[]
  /** Absent: the route's own (its schema's `summary`, `description`). */
  summary?: string
  description?: string
  /** Documentation only: a body the route validates itself. */
  body?: Json
  /**
   * The route takes a missing body as `{}`. @fastify/swagger marks every request body required; the document
   * is corrected after it is built (see `withOptionalBodies`).
   */
  bodyOptional?: true
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
    ...QUERY_ERRORS,
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
      '`native.workspaceRoots`; so must the default workspace (`claude.defaultWorkspace`, else the ' +
      "gateway's working folder) when `workspace` is not given, else 400 naming it.",
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
        ...QUERY_ERRORS,
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
        ...QUERY_ERRORS,
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
    description:
      'The turn ends with status `interrupted`; answered once it has ended (a Claude Code process that ' +
      'does not stop within 5 s is stopped). No body.',
    response: {
      200: json(
        'Whether the running turn ended interrupted.',
        plain(
          Type.Object({
            interrupted: Type.Boolean({
              description: 'false: nothing was running, or the turn ended otherwise meanwhile.',
            }),
          }),
        ),
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
      ...nativeErrors({ ...BODY_ERRORS, ...SESSION_NOT_FOUND, ...NATIVE_COMMON, ...TURN_START_ERRORS }),
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
      'no gap and no duplicate, at the pace the client reads (at most `native.maxBufferedBytes` wait in its ' +
      'connection). `: heartbeat` comments every `native.heartbeatMs`. A subscriber that takes no byte for ' +
      '`native.stallTimeoutMs` while its connection is full gets a last `event: error` (`slow_consumer`) and ' +
      'is disconnected.',
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
        ...QUERY_ERRORS,
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
      '`{"type": "error", "code", "message", "request_id"}` (no `seq`, unlike events). Events go at the ' +
      "client's pace. Close codes: 4404 no such session, 1008 `slow_consumer` (took no byte for " +
      '`native.stallTimeoutMs` with more than `native.maxBufferedBytes` waiting), 1011 the replay could not ' +
      'be read.',
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
        ...QUERY_ERRORS,
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
  'POST /api/sessions/:id/resume': {
    operationId: 'resumeSession',
    tags: ['lifecycle'],
    response: {
      200: json(
        'The session, `idle` with its `runner` (or as it is when already live or running).',
        ref('Session'),
      ),
      ...nativeErrors({
        404: 'not_found: no such session.',
        409: 'session_closed: the session is closed.',
        429: TURN_START_ERRORS[429],
        503: TURN_START_ERRORS[503],
        ...NATIVE_COMMON,
      }),
    },
  },
  'POST /api/sessions/:id/pause': {
    operationId: 'pauseSession',
    tags: ['lifecycle'],
    response: {
      200: json('The session, `paused` without a `runner`.', ref('Session')),
      ...nativeErrors({
        404: 'not_found: no such session.',
        409: 'session_busy: a turn runs or messages wait (interrupt it first); session_closed: the session is closed.',
        ...NATIVE_COMMON,
      }),
    },
  },
  'POST /api/sessions/:id/fork': {
    operationId: 'forkSession',
    tags: ['lifecycle'],
    bodyOptional: true,
    response: {
      201: json('The new session (`new`, with a copy of the conversation).', ref('Session')),
      ...nativeErrors({
        ...BODY_ERRORS,
        404: 'not_found: no such session, or no such turn or message in its current conversation.',
        409: 'session_busy: a whole fork of a session whose turn is running.',
        ...NATIVE_COMMON,
      }),
    },
  },
  'POST /api/sessions/import': {
    operationId: 'importSession',
    tags: ['lifecycle'],
    response: {
      201: json('The new session (`new`), continuing the conversation.', ref('Session')),
      ...nativeErrors({
        ...BODY_ERRORS,
        404: 'not_found: Claude Code has no such conversation in that workspace.',
        409: 'conflict: a session of the gateway already continues that conversation.',
        ...NATIVE_COMMON,
      }),
    },
  },
  'GET /api/claude-sessions': {
    operationId: 'listClaudeSessions',
    tags: ['lifecycle'],
    response: {
      200: json("A page of Claude Code's sessions, most recently modified first.", ref('ClaudeSessionPage')),
      ...nativeErrors({
        400: 'validation_error: `workspace` is missing, not a folder or not under native.workspaceRoots; or a query parameter is invalid or unknown.',
        ...NATIVE_COMMON,
      }),
    },
  },
  'GET /api/commands': {
    operationId: 'listCommands',
    tags: ['commands'],
    response: {
      200: json('The commands.', ref('CommandList')),
      ...nativeErrors({
        400: 'validation_error: `workspace` is not a folder under native.workspaceRoots, or a query parameter is unknown.',
        ...NATIVE_COMMON,
      }),
    },
  },
  'GET /api/sessions/:id/commands': {
    operationId: 'listSessionCommands',
    tags: ['commands'],
    response: {
      200: json("The commands of the session's workspace.", ref('CommandList')),
      ...nativeErrors({ ...SESSION_NOT_FOUND, ...NATIVE_COMMON }),
    },
  },
  'POST /api/sessions/:id/commands/:name': {
    operationId: 'runCommand',
    tags: ['commands'],
    bodyOptional: true,
    response: {
      200: json("The gateway command's answer, or the turn of the command Claude Code ran.", {
        oneOf: [ref('GatewayCommandResult'), ref('CommandTurnResult')],
      }),
      ...nativeErrors({
        ...BODY_ERRORS,
        400: 'validation_error: `params.name`, or `body.args` (arguments to a command that takes none, or refused by the route a gateway command uses); invalid_json.',
        403: 'path_outside_workspace: /export to a file out of the workspace.',
        404: 'not_found: no such session (or closed), or no such command (the message names the closest ones).',
        409:
          `${TURN_START_ERRORS[409]} command_unavailable: only files of a scope Claude Code does not load ` +
          'define it. conflict: /memory on a memory file that is a folder or leads out of its folder.',
        413: 'payload_too_large: the body is over server.bodyLimitBytes, or /memory would make the file larger than 1 MiB; too_large: /export over tools.writeMaxBytes.',
        429: TURN_START_ERRORS[429],
        503: TURN_START_ERRORS[503],
        ...NATIVE_COMMON,
      }),
    },
  },
  'GET /api/sessions/:id/tool-calls': {
    operationId: 'listToolCalls',
    tags: ['tool-calls'],
    response: {
      200: json('A page of tool calls.', ref('ToolCallPage')),
      ...nativeErrors({ ...QUERY_ERRORS, ...SESSION_NOT_FOUND, ...NATIVE_COMMON }),
    },
  },
  'GET /api/sessions/:id/tool-permissions': {
    operationId: 'getToolPermissions',
    tags: ['permissions'],
    response: {
      200: json("The session's permission mode, rules and approvals.", ref('ToolPermissions')),
      ...nativeErrors({ ...SESSION_NOT_FOUND, ...NATIVE_COMMON }),
    },
  },
  'PUT /api/sessions/:id/tool-permissions': {
    operationId: 'updateToolPermissions',
    tags: ['permissions'],
    response: {
      200: json('The permissions now in force.', ref('ToolPermissions')),
      ...nativeErrors({
        ...BODY_ERRORS,
        400: 'validation_error: the body does not match the schema, or a rule is not `Tool` or `Tool(pattern)` (`field` names it); invalid_json.',
        ...SESSION_NOT_FOUND,
        ...NATIVE_COMMON,
      }),
    },
  },
  'GET /api/sessions/:id/permissions': {
    operationId: 'listPermissionRequests',
    tags: ['permissions'],
    response: {
      200: json(
        'The requests waiting for an answer, oldest first.',
        plain(Type.Object({ items: Type.Array(Type.Unsafe(ref('PermissionRequest'))) })),
      ),
      ...nativeErrors({ ...SESSION_NOT_FOUND, ...NATIVE_COMMON }),
    },
  },
  'POST /api/sessions/:id/permissions/:request_id': {
    operationId: 'answerPermissionRequest',
    tags: ['permissions'],
    response: {
      200: json(
        'The request answered.',
        plain(
          Type.Object({
            request_id: Type.String(),
            tool_use_id: Type.String(),
            tool_name: Type.String(),
            behavior: Enum(['allow', 'deny']),
          }),
        ),
      ),
      ...nativeErrors({
        ...BODY_ERRORS,
        400: 'validation_error: the body does not match the schema, `message` with allow or `updated_input` with deny; invalid_json.',
        404: 'not_found: no such session (or closed), or no such request waiting (answered, timed out, or never made).',
        ...NATIVE_COMMON,
      }),
    },
  },
  'POST /api/sessions/:id/files/upload': {
    operationId: 'uploadFiles',
    tags: ['files'],
    response: {
      201: json('Where the files were written.', ref('Upload')),
      ...nativeErrors({
        400: 'validation_error: an unknown field, a field after the files or given twice, `overwrite` not true or false, no file; invalid_input: `path` is a file, a file name is a folder or comes twice; bad_request: not a valid form.',
        403: 'path_outside_workspace, permission_denied.',
        ...SESSION_NOT_FOUND,
        409: 'already_exists: a file exists and `overwrite` is not true.',
        413: 'payload_too_large: a file over native.uploadMaxFileBytes, more than native.uploadMaxFiles files, or too many fields.',
        415: 'unsupported_media_type: the body is not multipart/form-data.',
        ...NATIVE_COMMON,
      }),
    },
  },
  'GET /api/sessions/:id/files': {
    operationId: 'listFiles',
    tags: ['files'],
    response: {
      200: json('The listing: a tree of `children`, or flat.', ref('FileListing')),
      ...nativeErrors({
        400: 'validation_error: a query parameter is invalid or unknown; invalid_input: `path` is a file.',
        403: 'path_outside_workspace, permission_denied.',
        404: 'not_found: no such session (or closed), or no such folder.',
        ...NATIVE_COMMON,
      }),
    },
  },
  'GET /api/sessions/:id/files/content': {
    operationId: 'downloadFile',
    tags: ['files'],
    response: {
      200: {
        description:
          "The file's bytes. Content-Type from its name (application/octet-stream when unknown), " +
          'Content-Length, Content-Disposition: attachment, X-Content-Type-Options: nosniff.',
        headers: {
          'content-disposition': { type: 'string', description: '`attachment` with the file name.' },
          'x-content-type-options': { type: 'string', enum: ['nosniff'] },
        },
        content: { 'application/octet-stream': { schema: { type: 'string', format: 'binary' } } },
      },
      ...nativeErrors({
        400: 'validation_error: `path` is missing, or a query parameter is unknown; invalid_input: `path` is not a file.',
        403: 'path_outside_workspace, permission_denied.',
        404: 'not_found: no such session (or closed), or no such file.',
        ...NATIVE_COMMON,
      }),
    },
  },
  'POST /api/sessions/:id/project/init': {
    operationId: 'initProject',
    tags: ['project'],
    response: {
      200: json(
        'The finished turn (also when it failed: its `status`), and what became of CLAUDE.md.',
        ref('ProjectInit'),
      ),
      ...nativeErrors({ ...SESSION_NOT_FOUND, ...NATIVE_COMMON, ...TURN_START_ERRORS }),
    },
  },
  'PUT /api/sessions/:id/project/workspace': {
    operationId: 'moveSessionWorkspace',
    tags: ['project'],
    response: {
      200: json('The session in its new workspace.', ref('Session')),
      ...nativeErrors({ ...BODY_ERRORS, ...SESSION_NOT_FOUND, ...NATIVE_COMMON }),
    },
  },
  'GET /api/agents': {
    operationId: 'listAgents',
    tags: ['agents'],
    summary: 'List agents',
    description:
      "The user's agent files, with `workspace` that workspace's, and Claude Code's own agents (`builtin`, " +
      'once a Claude Code process has reported them). A file that does not load is listed with its `error`.',
    response: {
      200: json('The agents.', plain(Type.Object({ agents: Type.Array(Type.Unsafe(ref('AgentListItem'))) }))),
      ...nativeErrors({
        400: 'validation_error: `workspace` is not a folder under native.workspaceRoots, or a query parameter is unknown.',
        ...NATIVE_COMMON,
      }),
    },
  },
  'POST /api/agents': {
    operationId: 'createAgent',
    tags: ['agents'],
    summary: 'Create an agent file',
    description: "Writes `<name>.md` in the scope's agents folder (`project` needs `workspace`).",
    response: {
      201: json('The agent.', ref('AgentConfig')),
      ...nativeErrors({
        ...BODY_ERRORS,
        403: 'path_outside_scope: the agents folder leads out of its scope.',
        409: 'already_exists: the scope has that agent and `overwrite` is not true.',
        ...NATIVE_COMMON,
      }),
    },
  },
  'GET /api/agents/:name/config': {
    operationId: 'getAgent',
    tags: ['agents'],
    summary: 'Read an agent file',
    description:
      'Every setting, its prompt and its unknown front matter keys; without `scope`, the one Claude Code would use.',
    response: {
      200: json('The agent.', ref('AgentConfig')),
      ...nativeErrors(AGENT_FILE_ERRORS),
    },
  },
  'PUT /api/agents/:name/config': {
    operationId: 'updateAgent',
    tags: ['agents'],
    summary: 'Change an agent file',
    description:
      'Merges the fields given (`null` removes a setting), keeping comments and unknown keys. No renaming.',
    response: {
      200: json('The agent after the change.', ref('AgentConfig')),
      ...nativeErrors({
        ...AGENT_FILE_ERRORS,
        ...BODY_ERRORS,
        400: `${AGENT_FILE_ERRORS[400]} Or the body does not match the schema (\`field\` names it); invalid_json.`,
      }),
    },
  },
  'DELETE /api/agents/:name': {
    operationId: 'deleteAgent',
    tags: ['agents'],
    summary: 'Delete an agent file',
    response: {
      204: { description: 'Deleted.', type: 'null' },
      ...nativeErrors(AGENT_FILE_ERRORS),
    },
  },
  'PUT /api/sessions/:id/agent': {
    operationId: 'setSessionAgent',
    tags: ['agents'],
    summary: "Switch a session's main agent",
    description:
      'For its next turns, with the conversation kept (its process restarts with the agent); null: none.',
    response: {
      200: json('The session with its new agent.', ref('Session')),
      ...nativeErrors({
        ...BODY_ERRORS,
        404: 'not_found: no such session (or closed), or no such agent.',
        409: 'agent_unavailable: only a file that does not load, or of a scope Claude Code does not load, defines it.',
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
    response: {
      200: json('ok, or degraded with the reason (the Claude Code CLI is not usable).', ref('Health')),
      503: json(
        "degraded: the gateway's database fails (full, read-only, corrupt); `store` says how and since when.",
        ref('Health'),
      ),
    },
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
        503: "service_unavailable, overloaded; storage_unavailable: the gateway's database cannot be used.",
        504: 'timeout, tool_call_timeout.',
        507: "storage_full: the gateway's database has no space left.",
      }),
    },
  },
}

const TAGS = [
  { name: 'sessions', description: 'Sessions and their turns, events and context (native API, /api).' },
  {
    name: 'lifecycle',
    description: 'Resume, pause, fork and import sessions; the conversations Claude Code keeps for a folder.',
  },
  {
    name: 'commands',
    description: "Slash commands: Claude Code's own, command and skill files, and those the gateway runs.",
  },
  {
    name: 'tool-calls',
    description: "A session's tool calls (Claude's, its subagents', direct ones), read from its events.",
  },
  { name: 'permissions', description: 'What Claude may do with its tools, and the answers to what it asks.' },
  { name: 'tools', description: "The gateway's direct tools, run in a session's workspace (native API)." },
  { name: 'files', description: "A session's workspace as files: upload, list, download." },
  { name: 'project', description: "Claude Code's /init, and moving a session to another workspace." },
  { name: 'agents', description: "Claude Code's agent files, and a session's main agent." },
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

/** The document with the request bodies of `bodyOptional` operations optional, as the routes take them. */
function withOptionalBodies<T extends { paths?: object }>(document: T): T {
  const paths = document.paths as
    | Record<string, Record<string, { requestBody?: { required?: boolean } }>>
    | undefined
  for (const [key, operation] of Object.entries(OPERATIONS)) {
    if (!operation.bodyOptional) continue
    const [method = '', url = ''] = key.split(' ')
    const documented = paths?.[url.replace(/:(\w+)/g, '{$1}')]?.[method.toLowerCase()]
    if (documented?.requestBody) documented.requestBody.required = false
  }
  return document
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
    transformObject: (built) =>
      withOptionalBodies('openapiObject' in built ? built.openapiObject : built.swaggerObject),
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
