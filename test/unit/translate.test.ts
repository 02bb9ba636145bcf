/**
 * SDK message → gateway event translation, on message sequences shaped as the CLI sends them
 * (stream-json with partial messages): every literal below is typed against the SDK's own declarations.
 */
import assert from 'node:assert/strict'
import { type TestContext, test } from 'node:test'
import type {
  SDKAPIRetryMessage,
  SDKAssistantMessage,
  SDKCompactBoundaryMessage,
  SDKConversationResetMessage,
  SDKMessage,
  SDKPartialAssistantMessage,
  SDKResultError,
  SDKResultSuccess,
  SDKStatusMessage,
  SDKSystemMessage,
  SDKUserMessage,
  SDKUserMessageReplay,
} from '@anthropic-ai/claude-agent-sdk'
import type { BashOutput, FileEditOutput, FileWriteOutput } from '@anthropic-ai/claude-agent-sdk/sdk-tools'
import { classifyUpstream, Translator } from '../../src/engine/translate.js'
import type { EventBody } from '../../src/events/types.js'

type UUID = SDKAssistantMessage['uuid']
type AssistantBlock = SDKAssistantMessage['message']['content'][number]
type StreamEvent = SDKPartialAssistantMessage['event']
type UserContent = Exclude<SDKUserMessage['message']['content'], string>
type ResultUsage = SDKResultSuccess['usage']

const CLAUDE_SESSION = '9b6f1d2e-4c3a-4f8e-9d71-2a5b6c7d8e90'
const TURN = 'turn-1'
const MODEL = 'claude-sonnet-4-5-20250929'
const CWD = '/home/dev/project'

let counter = 0
/** A fresh, well-formed uuid for each message (the translator ignores them). */
function uuid(): UUID {
  counter++
  return `00000000-0000-4000-8000-${counter.toString(16).padStart(12, '0')}`
}

/** Runs a sequence through one translator, as the runner does, and returns every event in order. */
function run(translator: Translator, messages: readonly SDKMessage[], turnId = TURN): EventBody[] {
  return messages.flatMap((message) => translator.translate(message, turnId))
}

type MessageEvent = Extract<EventBody, { type: 'message' }>

/** The `message` event of Claude's message `messageId` (main conversation, turn TURN, model MODEL). */
function messageEvent(messageId: string, content: MessageEvent['content']): MessageEvent {
  return {
    type: 'message',
    turnId: TURN,
    messageId,
    model: MODEL,
    content,
    parentToolUseId: null,
    synthetic: false,
  }
}

/** A fixed clock, so `tool.result.durationMs` is exact. */
function clock(t: TestContext, start = 1_700_000_000_000): { now: number } {
  const time = { now: start }
  t.mock.method(Date, 'now', () => time.now)
  return time
}

// ---------------------------------------------------------------------------------------------------------
// SDK message builders

function init(sessionId = CLAUDE_SESSION, model = MODEL): SDKSystemMessage {
  return {
    type: 'system',
    subtype: 'init',
    apiKeySource: 'ANTHROPIC_API_KEY',
    claude_code_version: '2.1.0',
    cwd: CWD,
    tools: ['Bash', 'Edit', 'Read', 'Task', 'Write'],
    mcp_servers: [],
    model,
    permissionMode: 'acceptEdits',
    slash_commands: ['clear', 'compact'],
    output_style: 'default',
    skills: [],
    plugins: [],
    uuid: uuid(),
    session_id: sessionId,
  }
}

function stream(event: StreamEvent, parent: string | null = null): SDKPartialAssistantMessage {
  return { type: 'stream_event', event, parent_tool_use_id: parent, uuid: uuid(), session_id: CLAUDE_SESSION }
}

function textDelta(text: string, parent: string | null = null, index = 0): SDKPartialAssistantMessage {
  return stream({ type: 'content_block_delta', index, delta: { type: 'text_delta', text } }, parent)
}

function thinkingDelta(thinking: string, index = 0): SDKPartialAssistantMessage {
  return stream({
    type: 'content_block_delta',
    index,
    delta: { type: 'thinking_delta', thinking, estimated_tokens: null },
  })
}

function assistant(
  id: string,
  content: AssistantBlock[],
  options: { parent?: string | null; model?: string } = {},
): SDKAssistantMessage {
  return {
    type: 'assistant',
    message: {
      id,
      type: 'message',
      role: 'assistant',
      model: options.model ?? MODEL,
      content,
      container: null,
      context_management: null,
      diagnostics: null,
      stop_details: null,
      stop_reason: null,
      stop_sequence: null,
      usage: {
        input_tokens: 12,
        output_tokens: 4,
        cache_creation: null,
        cache_creation_input_tokens: 0,
        cache_read_input_tokens: 0,
        fallback_credit: null,
        inference_geo: null,
        iterations: null,
        output_tokens_details: null,
        server_tool_use: null,
        service_tier: 'standard',
        speed: null,
      },
    },
    parent_tool_use_id: options.parent ?? null,
    uuid: uuid(),
    session_id: CLAUDE_SESSION,
  }
}

function text(value: string): AssistantBlock {
  return { type: 'text', text: value, citations: null }
}

function toolUse(id: string, name: string, input: unknown): AssistantBlock {
  return { type: 'tool_use', id, name, input }
}

function userMessage(
  content: UserContent,
  options: { structured?: unknown; parent?: string | null } = {},
): SDKUserMessage {
  return {
    type: 'user',
    message: { role: 'user', content },
    parent_tool_use_id: options.parent ?? null,
    ...('structured' in options ? { tool_use_result: options.structured } : {}),
    uuid: uuid(),
    session_id: CLAUDE_SESSION,
  }
}

function toolResult(
  toolUseId: string,
  content: string,
  options: { isError?: boolean; structured?: unknown; parent?: string | null } = {},
): SDKUserMessage {
  const { isError, ...rest } = options
  return userMessage(
    [{ type: 'tool_result', tool_use_id: toolUseId, content, ...(isError ? { is_error: true } : {}) }],
    rest,
  )
}

function usage(input: number, output: number, extra: Partial<ResultUsage> = {}): ResultUsage {
  return {
    input_tokens: input,
    output_tokens: output,
    cache_creation: { ephemeral_1h_input_tokens: 0, ephemeral_5m_input_tokens: 0 },
    cache_creation_input_tokens: 0,
    cache_read_input_tokens: 0,
    fallback_credit: null,
    inference_geo: 'us',
    iterations: [],
    output_tokens_details: { thinking_tokens: 0 },
    server_tool_use: { web_fetch_requests: 0, web_search_requests: 0 },
    service_tier: 'standard',
    speed: 'standard',
    ...extra,
  }
}

function modelUsage(totalCost: number): SDKResultSuccess['modelUsage'] {
  return {
    [MODEL]: {
      inputTokens: 100,
      outputTokens: 20,
      cacheReadInputTokens: 0,
      cacheCreationInputTokens: 0,
      webSearchRequests: 0,
      costUSD: totalCost,
      contextWindow: 200_000,
      maxOutputTokens: 64_000,
    },
  }
}

function success(
  result: string,
  totalCost: number,
  extra: Partial<Omit<SDKResultSuccess, 'type' | 'subtype'>> = {},
): SDKResultSuccess {
  return {
    type: 'result',
    subtype: 'success',
    duration_ms: 1_250,
    duration_api_ms: 1_100,
    is_error: false,
    num_turns: 1,
    result,
    stop_reason: 'end_turn',
    total_cost_usd: totalCost,
    usage: usage(100, 20),
    modelUsage: modelUsage(totalCost),
    permission_denials: [],
    uuid: uuid(),
    session_id: CLAUDE_SESSION,
    ...extra,
  }
}

function failure(
  subtype: SDKResultError['subtype'],
  errors: string[],
  extra: Partial<Omit<SDKResultError, 'type' | 'subtype' | 'errors'>> = {},
): SDKResultError {
  return {
    type: 'result',
    subtype,
    duration_ms: 800,
    duration_api_ms: 700,
    is_error: true,
    num_turns: 3,
    stop_reason: null,
    total_cost_usd: 0,
    usage: usage(0, 0),
    modelUsage: {},
    permission_denials: [],
    errors,
    uuid: uuid(),
    session_id: CLAUDE_SESSION,
    ...extra,
  }
}

const ZERO_USAGE = {
  inputTokens: 0,
  outputTokens: 0,
  cacheReadInputTokens: 0,
  cacheCreationInputTokens: 0,
  thinkingTokens: 0,
}

/** The `turn.completed` of a turn `failure()` ended: no text, 3 turns in 800 ms (700 in the API), nothing charged. */
function failedTurn(status: 'error' | 'interrupted', error: { code: string; message: string }) {
  return {
    type: 'turn.completed',
    turnId: TURN,
    status,
    result: '',
    structuredOutput: undefined,
    stopReason: null,
    durationMs: 800,
    apiDurationMs: 700,
    numTurns: 3,
    usage: ZERO_USAGE,
    costUsd: 0,
    error,
  }
}

// ---------------------------------------------------------------------------------------------------------

test('a streamed text turn: session.ready, token deltas, the message, usage and turn.completed', () => {
  const messages: SDKMessage[] = [
    init(),
    stream({
      type: 'content_block_start',
      index: 0,
      content_block: { type: 'text', text: '', citations: null },
    }),
    textDelta('Hel'),
    textDelta('lo!'),
    stream({ type: 'content_block_stop', index: 0 }),
    assistant('msg_01', [text('Hello!')]),
    stream({ type: 'message_stop' }),
    success('Hello!', 0.015625, {
      usage: usage(100, 20, { cache_read_input_tokens: 3_000, cache_creation_input_tokens: 512 }),
    }),
  ]
  const turnUsage = {
    inputTokens: 100,
    outputTokens: 20,
    cacheReadInputTokens: 3_000,
    cacheCreationInputTokens: 512,
    thinkingTokens: 0,
  }
  assert.deepEqual(run(new Translator(), messages), [
    {
      type: 'session.ready',
      claudeSessionId: CLAUDE_SESSION,
      model: MODEL,
      cwd: CWD,
      tools: ['Bash', 'Edit', 'Read', 'Task', 'Write'],
      permissionMode: 'acceptEdits',
    },
    { type: 'text.delta', turnId: TURN, text: 'Hel', parentToolUseId: null },
    { type: 'text.delta', turnId: TURN, text: 'lo!', parentToolUseId: null },
    messageEvent('msg_01', [{ type: 'text', text: 'Hello!', citations: null }]),
    { type: 'usage', turnId: TURN, model: MODEL, usage: turnUsage, costUsd: 0.015625 },
    {
      type: 'turn.completed',
      turnId: TURN,
      status: 'success',
      result: 'Hello!',
      structuredOutput: undefined,
      stopReason: 'end_turn',
      durationMs: 1_250,
      apiDurationMs: 1_100,
      numTurns: 1,
      usage: turnUsage,
      costUsd: 0.015625,
    },
  ])
})

test('thinking streams as thinking.delta; signature and tool-input deltas produce nothing', () => {
  const messages: SDKMessage[] = [
    thinkingDelta('Let me '),
    thinkingDelta('think.'),
    stream({ type: 'content_block_delta', index: 0, delta: { type: 'signature_delta', signature: 'c2ln' } }),
    assistant('msg_02', [{ type: 'thinking', thinking: 'Let me think.', signature: 'c2ln' }]),
    stream({
      type: 'content_block_delta',
      index: 1,
      delta: { type: 'input_json_delta', partial_json: '{"a"' },
    }),
    textDelta('Done', null, 1),
  ]
  assert.deepEqual(run(new Translator(), messages), [
    { type: 'thinking.delta', turnId: TURN, text: 'Let me ', parentToolUseId: null },
    { type: 'thinking.delta', turnId: TURN, text: 'think.', parentToolUseId: null },
    messageEvent('msg_02', [{ type: 'thinking', thinking: 'Let me think.', signature: 'c2ln' }]),
    { type: 'text.delta', turnId: TURN, text: 'Done', parentToolUseId: null },
  ])
})

test('the result reports thinking tokens from output_tokens_details', () => {
  const events = run(new Translator(), [
    success('ok', 0, { usage: usage(10, 300, { output_tokens_details: { thinking_tokens: 250 } }) }),
  ])
  assert.deepEqual(events[0], {
    type: 'usage',
    turnId: TURN,
    model: MODEL,
    usage: {
      inputTokens: 10,
      outputTokens: 300,
      cacheReadInputTokens: 0,
      cacheCreationInputTokens: 0,
      thinkingTokens: 250,
    },
    costUsd: 0,
  })
})

test('session.ready is emitted once per Claude session id, and again after it changes', () => {
  const translator = new Translator()
  const next = 'c1d2e3f4-0000-4000-8000-00000000abcd'
  assert.equal(run(translator, [init()]).length, 1)
  assert.deepEqual(run(translator, [init(), init()]), [])
  assert.deepEqual(run(translator, [{ ...init(next), cwd: '/tmp/other', model: 'claude-opus-4-1' }]), [
    {
      type: 'session.ready',
      claudeSessionId: next,
      model: 'claude-opus-4-1',
      cwd: '/tmp/other',
      tools: ['Bash', 'Edit', 'Read', 'Task', 'Write'],
      permissionMode: 'acceptEdits',
    },
  ])
  assert.deepEqual(run(translator, [init(next)]), [])
  // Back to the first id (a resume of the earlier conversation) is a change too.
  assert.equal(run(translator, [init()])[0]?.type, 'session.ready')
})

test('conversation_reset becomes conversation.reset, with "clear" when the CLI gives no trigger', () => {
  const next: UUID = 'aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee'
  const reset: SDKConversationResetMessage = {
    type: 'conversation_reset',
    new_conversation_id: next,
    trigger: 'plan_mode_exit',
    uuid: uuid(),
    session_id: CLAUDE_SESSION,
  }
  const { trigger: _, ...untriggered } = reset
  assert.deepEqual(run(new Translator(), [reset, untriggered]), [
    { type: 'conversation.reset', claudeSessionId: next, trigger: 'plan_mode_exit' },
    { type: 'conversation.reset', claudeSessionId: next, trigger: 'clear' },
  ])
})

test('a tool turn: Write creating a file yields tool.call, tool.result and file.changed (created)', (t) => {
  const time = clock(t)
  const input = { file_path: `${CWD}/hello.txt`, content: 'hi\n' }
  const output: FileWriteOutput = {
    type: 'create',
    filePath: `${CWD}/hello.txt`,
    content: 'hi\n',
    structuredPatch: [],
    originalFile: null,
  }
  const translator = new Translator()
  const call = run(translator, [
    textDelta('Creating it.'),
    assistant('msg_10', [text('Creating it.')]),
    assistant('msg_10', [toolUse('toolu_01', 'Write', input)]),
  ])
  time.now += 42
  const result = run(translator, [
    toolResult('toolu_01', `File created successfully at: ${CWD}/hello.txt`, { structured: output }),
  ])
  assert.deepEqual(call, [
    { type: 'text.delta', turnId: TURN, text: 'Creating it.', parentToolUseId: null },
    messageEvent('msg_10', [{ type: 'text', text: 'Creating it.', citations: null }]),
    messageEvent('msg_10', [{ type: 'tool_use', id: 'toolu_01', name: 'Write', input }]),
    { type: 'tool.call', turnId: TURN, toolUseId: 'toolu_01', name: 'Write', input, parentToolUseId: null },
  ])
  assert.deepEqual(result, [
    {
      type: 'tool.result',
      turnId: TURN,
      toolUseId: 'toolu_01',
      name: 'Write',
      isError: false,
      content: `File created successfully at: ${CWD}/hello.txt`,
      structured: output,
      durationMs: 42,
      parentToolUseId: null,
    },
    {
      type: 'file.changed',
      turnId: TURN,
      toolUseId: 'toolu_01',
      tool: 'Write',
      path: `${CWD}/hello.txt`,
      kind: 'created',
      before: null,
      after: 'hi\n',
    },
  ])
})

test('Write over an existing file is a modification with the content before and after', (t) => {
  clock(t)
  const input = { file_path: `${CWD}/a.txt`, content: 'new\n' }
  const output: FileWriteOutput = {
    type: 'update',
    filePath: `${CWD}/a.txt`,
    content: 'new\n',
    structuredPatch: [{ oldStart: 1, oldLines: 1, newStart: 1, newLines: 1, lines: ['-old', '+new'] }],
    originalFile: 'old\n',
  }
  const translator = new Translator()
  run(translator, [assistant('msg_11', [toolUse('toolu_02', 'Write', input)])])
  const events = run(translator, [
    toolResult('toolu_02', 'The file has been updated.', { structured: output }),
  ])
  assert.deepEqual(events[1], {
    type: 'file.changed',
    turnId: TURN,
    toolUseId: 'toolu_02',
    tool: 'Write',
    path: `${CWD}/a.txt`,
    kind: 'modified',
    before: 'old\n',
    after: 'new\n',
  })
})

test('Edit: file.changed carries the original and the edited content, once or for every occurrence', (t) => {
  clock(t)
  const edit = (replaceAll: boolean): FileEditOutput => ({
    filePath: `${CWD}/src/app.ts`,
    oldString: 'foo',
    newString: 'bar',
    originalFile: 'const foo = foo()\n',
    structuredPatch: [],
    userModified: false,
    replaceAll,
  })
  const translator = new Translator()
  const input = { file_path: `${CWD}/src/app.ts`, old_string: 'foo', new_string: 'bar' }
  run(translator, [
    assistant('msg_12', [
      toolUse('toolu_03', 'Edit', input),
      toolUse('toolu_04', 'Edit', { ...input, replace_all: true }),
    ]),
  ])
  const once = run(translator, [
    toolResult('toolu_03', 'The file has been updated.', { structured: edit(false) }),
  ])
  const all = run(translator, [
    toolResult('toolu_04', 'The file has been updated.', { structured: edit(true) }),
  ])
  const changed = (toolUseId: string, after: string) => ({
    type: 'file.changed',
    turnId: TURN,
    toolUseId,
    tool: 'Edit',
    path: `${CWD}/src/app.ts`,
    kind: 'modified',
    before: 'const foo = foo()\n',
    after,
  })
  assert.deepEqual(once[1], changed('toolu_03', 'const bar = foo()\n'))
  assert.deepEqual(all[1], changed('toolu_04', 'const bar = bar()\n'))
})

test('Edit: "$" patterns in the new text are inserted literally', (t) => {
  clock(t)
  const output: FileEditOutput = {
    filePath: `${CWD}/a.sh`,
    oldString: 'X',
    newString: "$& $' $1",
    originalFile: 'aXb',
    structuredPatch: [],
    userModified: false,
    replaceAll: false,
  }
  const translator = new Translator()
  run(translator, [assistant('msg_13', [toolUse('toolu_05', 'Edit', { file_path: `${CWD}/a.sh` })])])
  const events = run(translator, [toolResult('toolu_05', 'ok', { structured: output })])
  assert.equal(events[1]?.type === 'file.changed' ? events[1].after : null, "a$& $' $1b")
})

test('a failed tool: tool.result with isError and no file.changed', (t) => {
  const time = clock(t)
  const translator = new Translator()
  run(translator, [
    assistant('msg_14', [
      toolUse('toolu_06', 'Edit', { file_path: `${CWD}/x`, old_string: 'a', new_string: 'b' }),
    ]),
  ])
  time.now += 5
  const error = '<tool_use_error>String to replace not found in file.</tool_use_error>'
  assert.deepEqual(
    run(translator, [toolResult('toolu_06', error, { isError: true, structured: `Error: ${error}` })]),
    [
      {
        type: 'tool.result',
        turnId: TURN,
        toolUseId: 'toolu_06',
        name: 'Edit',
        isError: true,
        content: error,
        structured: `Error: ${error}`,
        durationMs: 5,
        parentToolUseId: null,
      },
    ],
  )
})

test('a non-file tool: tool.result with its structured output; block content is kept as blocks', (t) => {
  const time = clock(t)
  const output: BashOutput = { stdout: 'a.txt\nb.txt', stderr: '', interrupted: false }
  const translator = new Translator()
  run(translator, [assistant('msg_15', [toolUse('toolu_07', 'Bash', { command: 'ls' })])])
  time.now += 120
  const events = run(translator, [
    userMessage(
      [{ type: 'tool_result', tool_use_id: 'toolu_07', content: [{ type: 'text', text: 'a.txt\nb.txt' }] }],
      {
        structured: output,
      },
    ),
  ])
  assert.deepEqual(events, [
    {
      type: 'tool.result',
      turnId: TURN,
      toolUseId: 'toolu_07',
      name: 'Bash',
      isError: false,
      content: [{ type: 'text', text: 'a.txt\nb.txt' }],
      structured: output,
      durationMs: 120,
      parentToolUseId: null,
    },
  ])
})

test('a result for an unknown tool call is named "unknown" with no duration; each call is answered once', () => {
  const translator = new Translator()
  const expected = {
    type: 'tool.result',
    turnId: TURN,
    toolUseId: 'toolu_99',
    name: 'unknown',
    isError: false,
    content: 'ok',
    structured: undefined,
    durationMs: null,
    parentToolUseId: null,
  }
  assert.deepEqual(run(translator, [toolResult('toolu_99', 'ok')]), [expected])
  run(translator, [assistant('msg_16', [toolUse('toolu_08', 'Read', { file_path: '/x' })])])
  assert.equal(run(translator, [toolResult('toolu_08', 'x')])[0]?.type, 'tool.result')
  const again = run(translator, [toolResult('toolu_08', 'x')])[0]
  assert.equal(again?.type === 'tool.result' ? again.name : null, 'unknown')
})

test('user messages without tool results, and replayed user messages, produce nothing', () => {
  const replay: SDKUserMessageReplay = {
    type: 'user',
    message: { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_01', content: 'old' }] },
    parent_tool_use_id: null,
    isReplay: true,
    uuid: uuid(),
    session_id: CLAUDE_SESSION,
  }
  const plain: SDKUserMessage = {
    type: 'user',
    message: { role: 'user', content: 'hello' },
    parent_tool_use_id: null,
  }
  assert.deepEqual(run(new Translator(), [replay, plain, userMessage([{ type: 'text', text: 'hi' }])]), [])
})

test('subagent output carries parentToolUseId: the Task call that started it', (t) => {
  const time = clock(t)
  const task = 'toolu_task'
  const translator = new Translator()
  const events = run(translator, [
    assistant('msg_20', [
      toolUse(task, 'Task', { description: 'Search', prompt: 'Find it', subagent_type: 'general' }),
    ]),
    textDelta('Searching', task),
    assistant('msg_21', [toolUse('toolu_sub', 'Read', { file_path: '/x' })], { parent: task }),
    toolResult('toolu_sub', 'contents', { parent: task }),
    assistant('msg_22', [text('Found it')], { parent: task }),
  ])
  time.now += 1_000
  events.push(...run(translator, [toolResult(task, 'Found it')]))
  assert.deepEqual(
    events.map((e) => [e.type, 'parentToolUseId' in e ? e.parentToolUseId : undefined]),
    [
      ['message', null],
      ['tool.call', null],
      ['text.delta', task],
      ['message', task],
      ['tool.call', task],
      ['tool.result', task],
      ['message', task],
      ['tool.result', null],
    ],
  )
  const last = events.at(-1)
  assert.equal(last?.type === 'tool.result' ? `${last.name} ${last.durationMs}` : '', 'Task 1000')
})

test('a local command answer (model "<synthetic>") is a synthetic message', () => {
  const [event] = run(new Translator(), [assistant('msg_30', [text('Compacted.')], { model: '<synthetic>' })])
  assert.deepEqual(event, {
    type: 'message',
    turnId: TURN,
    messageId: 'msg_30',
    model: '<synthetic>',
    content: [{ type: 'text', text: 'Compacted.', citations: null }],
    parentToolUseId: null,
    synthetic: true,
  })
})

test('api_retry becomes api.retry', () => {
  const retry: SDKAPIRetryMessage = {
    type: 'system',
    subtype: 'api_retry',
    attempt: 2,
    max_retries: 10,
    retry_delay_ms: 1_200,
    error_status: 529,
    error: 'overloaded',
    uuid: uuid(),
    session_id: CLAUDE_SESSION,
  }
  const noResponse: SDKAPIRetryMessage = { ...retry, attempt: 1, error_status: null, error: 'unknown' }
  assert.deepEqual(run(new Translator(), [retry, noResponse]), [
    { type: 'api.retry', turnId: TURN, attempt: 2, maxRetries: 10, delayMs: 1_200, status: 529 },
    { type: 'api.retry', turnId: TURN, attempt: 1, maxRetries: 10, delayMs: 1_200, status: null },
  ])
})

test('compact_boundary becomes compacted', () => {
  const compact = (metadata: SDKCompactBoundaryMessage['compact_metadata']): SDKCompactBoundaryMessage => ({
    type: 'system',
    subtype: 'compact_boundary',
    compact_metadata: metadata,
    uuid: uuid(),
    session_id: CLAUDE_SESSION,
  })
  assert.deepEqual(
    run(new Translator(), [
      compact({ trigger: 'auto', pre_tokens: 160_000, post_tokens: 12_000, duration_ms: 9_000 }),
      compact({ trigger: 'manual', pre_tokens: 50_000 }),
    ]),
    [
      { type: 'compacted', turnId: TURN, trigger: 'auto', preTokens: 160_000, postTokens: 12_000 },
      { type: 'compacted', turnId: TURN, trigger: 'manual', preTokens: 50_000, postTokens: undefined },
    ],
  )
})

test('other messages (status, unknown system subtypes) produce nothing', () => {
  const status: SDKStatusMessage = {
    type: 'system',
    subtype: 'status',
    status: 'compacting',
    uuid: uuid(),
    session_id: CLAUDE_SESSION,
  }
  assert.deepEqual(run(new Translator(), [status]), [])
})

test('cost per turn is the difference between the cumulative totals of consecutive results', () => {
  const translator = new Translator()
  const first = run(translator, [success('one', 0.015625)])
  const second = run(translator, [success('two', 0.046875)], 'turn-2')
  const third = run(translator, [success('three', 0.046875)], 'turn-3')
  const costs = [first, second, third].map((events) =>
    events.map((e) => (e.type === 'usage' || e.type === 'turn.completed' ? e.costUsd : -1)),
  )
  assert.deepEqual(costs, [
    [0.015625, 0.015625],
    [0.03125, 0.03125],
    [0, 0],
  ])
  assert.deepEqual(
    second.map((e) => e.type === 'turn.completed' && [e.turnId, e.result]),
    [false, ['turn-2', 'two']],
  )
})

test('after /clear the CLI restarts its running cost total: the next turn is still charged', () => {
  const translator = new Translator()
  run(translator, [success('one', 0.5)])
  const reset: SDKConversationResetMessage = {
    type: 'conversation_reset',
    new_conversation_id: 'aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee',
    trigger: 'clear',
    uuid: uuid(),
    session_id: CLAUDE_SESSION,
  }
  // The first turn after the reset costs more than everything before it: only the reset tells.
  const after = run(translator, [reset, success('two', 0.75)])
  assert.equal(after[1]?.type === 'usage' ? after[1].costUsd : -1, 0.75)
  // A total below the last one is a restarted total even without the reset message.
  const dropped = new Translator()
  run(dropped, [success('one', 0.5)])
  const next = run(dropped, [success('two', 0.25)])
  assert.equal(next[0]?.type === 'usage' ? next[0].costUsd : -1, 0.25)
})

test('structured output of a successful turn is passed through', () => {
  const events = run(new Translator(), [success('{"n":1}', 0, { structured_output: { n: 1 } })])
  assert.deepEqual(events[1]?.type === 'turn.completed' ? events[1].structuredOutput : null, { n: 1 })
})

/** The turn.completed of a single result message. */
function completed(message: SDKResultSuccess | SDKResultError) {
  const events = run(new Translator(), [message])
  assert.equal(events.length, 2)
  assert.equal(events[0]?.type, 'usage')
  const last = events[1]
  assert.ok(last?.type === 'turn.completed')
  return last
}

test('an API error ending a turn (is_error success): rate_limited, overloaded, context_length_exceeded', () => {
  const apiError = (status: number | null, message: string) =>
    success(message, 0.001953125, {
      is_error: true,
      api_error_status: status,
      stop_reason: null,
      usage: usage(0, 0),
    })
  assert.deepEqual(
    completed(apiError(429, 'API Error: 429 {"type":"error","error":{"type":"rate_limit_error"}}')),
    {
      type: 'turn.completed',
      turnId: TURN,
      status: 'error',
      result: 'API Error: 429 {"type":"error","error":{"type":"rate_limit_error"}}',
      structuredOutput: undefined,
      stopReason: null,
      durationMs: 1_250,
      apiDurationMs: 1_100,
      numTurns: 1,
      usage: ZERO_USAGE,
      costUsd: 0.001953125,
      error: {
        code: 'rate_limited',
        message: 'API Error: 429 {"type":"error","error":{"type":"rate_limit_error"}}',
      },
    },
  )
  const codeOf = (status: number | null, message: string) => completed(apiError(status, message)).error?.code
  assert.equal(codeOf(529, 'API Error: Repeated 529 Overloaded errors'), 'overloaded')
  assert.equal(codeOf(400, 'Prompt is too long'), 'context_length_exceeded')
  assert.equal(codeOf(null, 'Prompt is too long'), 'context_length_exceeded')
  assert.equal(codeOf(500, 'API Error: 500 Internal server error'), 'upstream_error')
  assert.equal(codeOf(null, 'API Error: Connection error.'), 'upstream_error')
})

test('error_max_turns and error_max_budget_usd', () => {
  assert.deepEqual(
    completed(failure('error_max_turns', ['Reached maximum number of turns (3)'])),
    failedTurn('error', { code: 'max_turns', message: 'Reached maximum number of turns (3)' }),
  )
  assert.deepEqual(completed(failure('error_max_turns', [])).error, {
    code: 'max_turns',
    message: 'Maximum number of turns reached',
  })
  assert.deepEqual(completed(failure('error_max_budget_usd', ['a', 'b'])).error, {
    code: 'max_budget',
    message: 'a; b',
  })
})

test('error_during_execution: interrupted (aborted_streaming / aborted_tools), prompt_too_long, other', () => {
  const aborted = completed(failure('error_during_execution', [], { terminal_reason: 'aborted_streaming' }))
  assert.deepEqual(
    aborted,
    failedTurn('interrupted', { code: 'interrupted', message: 'The turn was interrupted' }),
  )
  assert.equal(
    completed(failure('error_during_execution', [], { terminal_reason: 'aborted_tools' })).status,
    'interrupted',
  )
  assert.deepEqual(
    completed(failure('error_during_execution', [], { terminal_reason: 'prompt_too_long' })).error,
    { code: 'context_length_exceeded', message: 'Prompt is too long' },
  )
  const other = completed(failure('error_during_execution', ['boom'], { terminal_reason: 'model_error' }))
  assert.deepEqual([other.status, other.error], ['error', { code: 'upstream_error', message: 'boom' }])
  assert.deepEqual(completed(failure('error_during_execution', [])).error, {
    code: 'upstream_error',
    message: 'Claude Code reported an error',
  })
})

test('classifyUpstream: the message wins over the status for context length', () => {
  assert.equal(classifyUpstream(429, 'x'), 'rate_limited')
  assert.equal(classifyUpstream(undefined, 'Rate limit reached'), 'rate_limited')
  assert.equal(classifyUpstream(529, 'x'), 'overloaded')
  assert.equal(classifyUpstream(null, 'Overloaded'), 'overloaded')
  assert.equal(
    classifyUpstream(400, 'input length and max_tokens exceed context length'),
    'context_length_exceeded',
  )
  assert.equal(classifyUpstream(429, 'Prompt is too long'), 'context_length_exceeded')
  // Credentials refused: no retry helps, and the error must say so (not a generic upstream failure).
  assert.equal(classifyUpstream(401, 'Invalid API key'), 'upstream_auth_failed')
  assert.equal(classifyUpstream(403, 'Forbidden'), 'upstream_auth_failed')
  assert.equal(classifyUpstream(500, 'Internal server error'), 'upstream_error')
})

test('a resumed conversation starts from the cost saved before: its first turn is charged only itself', () => {
  const translator = new Translator(0.25)
  const events = run(translator, [success('resumed', 0.375)])
  assert.equal(events[0]?.type === 'usage' ? events[0].costUsd : -1, 0.125)
})

test("a turn's API time is the growth of the CLI's running total; unknown for a resumed process's first turn", () => {
  const apiTimes = (translator: Translator, totals: number[]) =>
    totals.map((total, i) => {
      const events = run(translator, [success(`turn ${i}`, 0, { duration_api_ms: total })], `turn-${i}`)
      const last = events.at(-1)
      return last?.type === 'turn.completed' ? last.apiDurationMs : 'no turn.completed'
    })
  // As the CLI reports it: 377 ms, then 552 more; a total below the last one started again (/clear).
  assert.deepEqual(apiTimes(new Translator(), [377, 929, 929, 200]), [377, 552, 0, 200])
  // A resumed CLI may go on from the total saved for the conversation, or start from 0: not known at first.
  assert.deepEqual(apiTimes(new Translator(0.25, true), [1_255, 1_489]), [undefined, 234])
  // A result that ends no turn (a background task's) moves the total on: the next turn is not charged for it.
  const background = new Translator()
  run(background, [success('own', 0, { duration_api_ms: 300 })])
  run(background, [
    success('background', 0, {
      duration_api_ms: 800,
      origin: { kind: 'task-notification' },
    }),
  ])
  assert.deepEqual(apiTimes(background, [1_000]), [200])
})

test('usage names the main conversation model, not a subagent or a local command', () => {
  const translator = new Translator()
  const events = run(translator, [
    assistant('msg_main', [text('main')], { model: 'claude-main-model' }),
    assistant('msg_sub', [text('sub')], { parent: 'toolu_task', model: 'claude-haiku-sub' }),
    assistant('msg_local', [text('local')], { model: '<synthetic>' }),
    success('done', 0.01),
  ])
  const usageEvent = events.find((e) => e.type === 'usage')
  assert.equal(usageEvent?.type === 'usage' ? usageEvent.model : '', 'claude-main-model')
})

test('empty text and thinking deltas produce no event', () => {
  assert.deepEqual(run(new Translator(), [textDelta(''), thinkingDelta('')]), [])
})

test('Edit creating a missing file (empty old_string) is a creation', (t) => {
  clock(t)
  const translator = new Translator()
  const path = `${CWD}/new.txt`
  run(translator, [
    assistant('msg_new', [
      toolUse('toolu_new', 'Edit', { file_path: path, old_string: '', new_string: 'hello\n' }),
    ]),
  ])
  const created: FileEditOutput = {
    filePath: path,
    oldString: '',
    newString: 'hello\n',
    originalFile: null,
    structuredPatch: [],
    userModified: false,
    replaceAll: false,
  }
  const events = run(translator, [toolResult('toolu_new', 'File created.', { structured: created })])
  assert.deepEqual(events[1], {
    type: 'file.changed',
    turnId: TURN,
    toolUseId: 'toolu_new',
    tool: 'Edit',
    path,
    kind: 'created',
    before: null,
    after: 'hello\n',
  })
})

/**
 * The notes Claude Code 2.1 stamps on a user message's tool results (`tool_result_meta`), which the SDK's
 * types do not declare; shaped as the CLI sent them against the scripted model.
 */
type ToolResultMeta = {
  id: string
  non_execution_kind?: string
  permission_decision: { decision: 'accept' | 'reject' | 'cancelled'; source: string; reason_type?: string }
}

function withMeta(message: SDKUserMessage, meta: ToolResultMeta[]): SDKUserMessage {
  const stamped: SDKUserMessage & { tool_result_meta: ToolResultMeta[] } = {
    ...message,
    tool_result_meta: meta,
  }
  return stamped
}

test("a call Claude Code's permission check rejected is denied: a rule, the mode, a path rule, a subagent's", () => {
  const translator = new Translator()
  const calls = ['toolu_rule', 'toolu_mode', 'toolu_path', 'toolu_ran', 'toolu_failed']
  run(translator, [
    assistant(
      'msg_p',
      calls.map((id) => toolUse(id, 'Bash', { command: 'x' })),
    ),
  ])
  const refusal = 'Permission to use Bash with command x has been denied.'
  const events = run(translator, [
    withMeta(toolResult('toolu_rule', refusal, { isError: true, structured: `Error: ${refusal}` }), [
      {
        id: 'toolu_rule',
        non_execution_kind: 'permission-rule',
        permission_decision: { decision: 'reject', source: 'config', reason_type: 'subcommandResults' },
      },
    ]),
    withMeta(toolResult('toolu_mode', 'denied in dontAsk mode', { isError: true }), [
      {
        id: 'toolu_mode',
        non_execution_kind: 'permission-rule',
        permission_decision: { decision: 'reject', source: 'config', reason_type: 'mode' },
      },
    ]),
    // A path-scoped file rule: no non_execution_kind, and wording unlike the others'.
    withMeta(
      toolResult('toolu_path', '<tool_use_error>File is in a directory that is denied</tool_use_error>', {
        isError: true,
        parent: 'toolu_task',
      }),
      [
        {
          id: 'toolu_path',
          permission_decision: { decision: 'reject', source: 'config', reason_type: 'rule' },
        },
      ],
    ),
    withMeta(toolResult('toolu_ran', 'fine'), [
      { id: 'toolu_ran', permission_decision: { decision: 'accept', source: 'config', reason_type: 'mode' } },
    ]),
    // The refusal wording alone decides nothing.
    toolResult('toolu_failed', refusal, { isError: true }),
  ])
  assert.deepEqual(
    events.map((e) => e.type === 'tool.result' && [e.toolUseId, e.isError, e.denied]),
    [
      ['toolu_rule', true, true],
      ['toolu_mode', true, true],
      ['toolu_path', true, true],
      ['toolu_ran', false, undefined],
      ['toolu_failed', true, undefined],
    ],
  )
  assert.ok(!('denied' in events[3]!), 'absent, not false, on a call that ran')
})

test('a result Claude Code made on its own after a background task answers no message: usage only', () => {
  const translator = new Translator()
  const turn = run(translator, [success('started it', 0.25, { user_message_uuid: uuid() })])
  assert.deepEqual(
    turn.map((e) => e.type),
    ['usage', 'turn.completed'],
  )
  const notified = success('after the subagent', 0.5, {
    origin: { kind: 'task-notification' },
    usage: usage(12, 7),
  })
  assert.deepEqual(run(translator, [notified]), [
    {
      type: 'usage',
      turnId: TURN,
      model: MODEL,
      usage: { ...ZERO_USAGE, inputTokens: 12, outputTokens: 7 },
      costUsd: 0.25,
    },
  ])
  // One that took in a user message queued meanwhile answers it: it ends that turn.
  const folded = success('both', 0.75, { origin: { kind: 'task-notification' }, user_message_uuid: uuid() })
  assert.deepEqual(
    run(translator, [folded], 'turn-2').map((e) => e.type),
    ['usage', 'turn.completed'],
  )
})

test('/model <name> run locally becomes model.changed; "default" is null; /model alone changes nothing', () => {
  const modelCommand = (args: string): SDKAssistantMessage => {
    const answer = assistant('msg_model', [text(`Set model to ${args}`)], { model: '<synthetic>' })
    const stamped: SDKAssistantMessage & { local_command_run: { command: string; args: string } } = {
      ...answer,
      local_command_run: { command: 'model', args },
    }
    return stamped
  }
  const changes = (message: SDKMessage) =>
    run(new Translator(), [message]).filter((e) => e.type === 'model.changed')
  assert.deepEqual(changes(modelCommand('sonnet')), [
    { type: 'model.changed', turnId: TURN, model: 'sonnet' },
  ])
  assert.deepEqual(changes(modelCommand(' claude-haiku-4-5 ')), [
    { type: 'model.changed', turnId: TURN, model: 'claude-haiku-4-5' },
  ])
  assert.deepEqual(changes(modelCommand('default')), [{ type: 'model.changed', turnId: TURN, model: null }])
  assert.deepEqual(changes(modelCommand('')), [])
  const other: SDKAssistantMessage & { local_command_run: { command: string; args: string } } = {
    ...assistant('msg_effort', [text('Set effort')], { model: '<synthetic>' }),
    local_command_run: { command: 'effort', args: 'high' },
  }
  assert.deepEqual(changes(other), [])
})
