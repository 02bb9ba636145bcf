/** Chat Completions requests in engine terms, and answers built from events: no process involved. */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { Answer } from '../../src/api/openai/answer.js'
import { OpenAIError } from '../../src/api/openai/errors.js'
import { conversationKey, planRequest } from '../../src/api/openai/request.js'
import type { ChatCompletionRequest, ChatMessage } from '../../src/api/openai/schema.js'
import { type Config, loadConfig } from '../../src/config/index.js'
import type { GatewayEvent, TokenUsage } from '../../src/events/types.js'
import { chatUsage } from '../support/openai-usage.js'

const config: Config = loadConfig({ env: {} }).config
const model = { id: 'claude-code', claudeModel: null }
const plan = (body: Partial<ChatCompletionRequest>) =>
  planRequest(
    { model: 'claude-code', messages: [{ role: 'user', content: 'hi' }], ...body } as ChatCompletionRequest,
    config,
    model,
  )

/** An assistant message calling function `f` (call `id`, with `args`), with `content` beside the call. */
function assistantCallingF(id: string, args: string, content: unknown = null): ChatMessage {
  return {
    role: 'assistant',
    content,
    tool_calls: [{ id, type: 'function', function: { name: 'f', arguments: args } }],
  }
}

function rejects(body: Partial<ChatCompletionRequest>, param: string | null): void {
  assert.throws(
    () => plan(body),
    (error: unknown) => error instanceof OpenAIError && error.status === 400 && error.param === param,
    JSON.stringify(body),
  )
}

test('history becomes alternating turns; the trailing user messages are the new input', () => {
  const result = plan({
    messages: [
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'a' },
      assistantCallingF('c1', '{"x":1}', 'b'),
      { role: 'tool', tool_call_id: 'c1', content: 'r' },
      { role: 'assistant', content: [{ type: 'text', text: 'd' }] },
      { role: 'user', content: 'e' },
      { role: 'user', content: [{ type: 'text', text: 'f' }] },
    ] as ChatMessage[],
  })
  assert.deepEqual(result.history, [
    { role: 'user', content: [{ type: 'text', text: 'a' }] },
    {
      role: 'assistant',
      content: [
        { type: 'text', text: 'b' },
        { type: 'tool_use', id: 'c1', name: 'f', input: { x: 1 } },
      ],
    },
    { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'c1', content: 'r' }] },
    { role: 'assistant', content: [{ type: 'text', text: 'd' }] },
  ])
  assert.deepEqual(result.input, {
    kind: 'user',
    content: [
      { type: 'text', text: 'e' },
      { type: 'text', text: 'f' },
    ],
  })
  assert.equal(result.settings.appendSystemPrompt, 'Be brief.')
  assert.deepEqual(result.settings.tools, [], 'no built-in tool unless configured')
})

test('trailing tool messages are results for waiting calls', () => {
  const result = plan({
    messages: [
      { role: 'user', content: 'a' },
      assistantCallingF('c1', '{}'),
      { role: 'tool', tool_call_id: 'c1', content: [{ type: 'text', text: 'done' }] },
    ] as ChatMessage[],
  })
  assert.deepEqual(result.input, { kind: 'tool_results', results: [{ toolCallId: 'c1', content: 'done' }] })
})

test('the history key ignores how text is split and how arguments are spaced, but not the content', () => {
  const a: ChatMessage[] = [{ role: 'user', content: 'hello' }, assistantCallingF('1', '{"a": 1}', 'x')]
  const b: ChatMessage[] = [
    {
      role: 'user',
      content: [
        { type: 'text', text: 'hel' },
        { type: 'text', text: 'lo' },
      ],
    },
    assistantCallingF('1', '{"a":1}', 'x'),
  ]
  assert.equal(conversationKey('p', a), conversationKey('p', b))
  assert.notEqual(
    conversationKey('p', a),
    conversationKey('q', a),
    'another configuration is another conversation',
  )
  assert.notEqual(conversationKey('p', a), conversationKey('p', [{ role: 'user', content: 'hello!' }, a[1]!]))
})

test('options map to Claude Code settings, within what the configuration allows', () => {
  const result = plan({
    reasoning_effort: 'minimal',
    max_completion_tokens: 64,
    response_format: { type: 'json_object' },
    allowed_tools: ['Read'],
    extra_body: { max_turns: 3, append_system_prompt: 'Extra.' },
    stop: 'END',
  } as Partial<ChatCompletionRequest>)
  assert.equal(result.settings.effort, 'low')
  assert.equal(result.settings.maxOutputTokens, 64)
  assert.deepEqual(result.settings.outputSchema, { type: 'object', additionalProperties: true })
  assert.deepEqual(result.settings.tools, ['Read'])
  assert.equal(result.settings.maxTurns, 3)
  assert.equal(result.settings.appendSystemPrompt, 'Extra.')
  assert.deepEqual(result.stop, ['END'])
  assert.equal(result.json, true)
  assert.deepEqual(plan({ reasoning_effort: 'none' } as Partial<ChatCompletionRequest>).settings.thinking, {
    type: 'disabled',
  })
})

test('what cannot be honoured is refused with the parameter named', () => {
  rejects({ n: 2 }, 'n')
  rejects({ logprobs: true }, 'logprobs')
  rejects({ top_logprobs: 2 }, 'top_logprobs')
  rejects({ messages: [{ role: 'assistant', content: 'x' }] as ChatMessage[] }, 'messages')
  rejects({ messages: [{ role: 'function', content: 'x' }] as ChatMessage[] }, 'messages[0].role')
  rejects(
    { messages: [{ role: 'user', content: [{ type: 'input_audio' }] }] as ChatMessage[] },
    'messages[0].content[0].type',
  )
  rejects(
    {
      messages: [
        { role: 'user', content: [{ type: 'image_url', image_url: { url: 'data:image/bmp;base64,AA' } }] },
      ] as ChatMessage[],
    },
    'messages[0].content[0].image_url.url',
  )
  rejects(
    {
      messages: [{ role: 'user', content: [{ type: 'file', file: { file_id: 'file-1' } }] }] as ChatMessage[],
    },
    'messages[0].content[0].file.file_id',
  )
  rejects({ workspace: '/tmp' } as Partial<ChatCompletionRequest>, 'workspace')
  rejects({ allowed_tools: ['Read', 'Bash'] } as Partial<ChatCompletionRequest>, 'allowed_tools[1]')
})

const usage = (output: number): TokenUsage => ({
  inputTokens: 10,
  outputTokens: output,
  cacheReadInputTokens: 5,
  cacheCreationInputTokens: 2,
  thinkingTokens: 0,
})

function event(body: object): GatewayEvent {
  return { seq: 1, ts: 0, sessionId: 's', turnId: 't', parentToolUseId: null, ...body } as GatewayEvent
}

const completed = (output = 4) =>
  event({
    type: 'turn.completed',
    status: 'success',
    result: '',
    stopReason: 'end_turn',
    durationMs: 1,
    numTurns: 1,
    usage: usage(output),
    costUsd: 0,
  })

test('stop sequences are found across deltas and never leak their start', () => {
  const answer = new Answer({ json: false, stop: ['STOP'], clientFunction: () => undefined, wholeTurn: true })
  const sent = ['one ST', 'OP two', ' three'].flatMap((text) =>
    answer.apply(event({ type: 'text.delta', text })),
  )
  assert.equal(sent.map((d) => d.content).join(''), 'one ')
  assert.equal(answer.stopped, true)
  assert.equal(answer.finishReason, 'stop')
})

test('text after a tool use starts a new paragraph; subagent text is not part of the answer', () => {
  const answer = new Answer({ json: false, stop: [], clientFunction: () => undefined, wholeTurn: true })
  answer.apply(event({ type: 'text.delta', text: 'Looking.' }))
  answer.apply(
    event({
      type: 'message',
      messageId: 'm',
      model: 'x',
      content: [{ type: 'text', text: 'Looking.' }],
      synthetic: false,
    }),
  )
  answer.apply(event({ type: 'text.delta', text: 'inner', parentToolUseId: 'toolu_task' }))
  answer.apply(event({ type: 'text.delta', text: 'Found it.' }))
  answer.apply(completed())
  assert.equal(answer.content, 'Looking.\n\nFound it.')
  assert.deepEqual(answer.usage, chatUsage({ prompt: 17, completion: 4, total: 21, cached: 5 }))
})

test('client calls end the answer when the model response ends; usage is that response’s', () => {
  const answer = new Answer({
    json: false,
    stop: [],
    clientFunction: (name) => (name === 'mcp__client__f' ? 'f' : undefined),
    wholeTurn: true,
  })
  const deltas = answer.apply(
    event({ type: 'tool.call', toolUseId: 'toolu_1', name: 'mcp__client__f', input: { a: 1 } }),
  )
  assert.deepEqual(deltas, [
    { tool_calls: [{ index: 0, id: 'toolu_1', type: 'function', function: { name: 'f', arguments: '' } }] },
    { tool_calls: [{ index: 0, function: { arguments: '{"a":1}' } }] },
  ])
  assert.deepEqual(
    answer.apply(event({ type: 'tool.call', toolUseId: 'toolu_2', name: 'Read', input: {} })),
    [],
  )
  assert.equal(answer.done, false)
  answer.apply(event({ type: 'message.stop', stopReason: 'tool_use', usage: usage(9) }))
  assert.equal(answer.done, true)
  assert.equal(answer.finishReason, 'tool_calls')
  assert.equal(answer.usage?.completion_tokens, 9)
})

test('JSON Schemas are checked at the edge and lose their $schema dialect', () => {
  const schema = {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    type: 'object',
    properties: { a: { type: 'number' } },
  }
  const result = plan({
    response_format: { type: 'json_schema', json_schema: { name: 'x', schema } },
    tools: [{ type: 'function', function: { name: 'f', parameters: schema } }],
  } as Partial<ChatCompletionRequest>)
  assert.deepEqual(result.settings.outputSchema, { type: 'object', properties: { a: { type: 'number' } } })
  assert.deepEqual(result.settings.clientTools?.[0]?.parameters, {
    type: 'object',
    properties: { a: { type: 'number' } },
  })
  rejects(
    {
      response_format: { type: 'json_schema', json_schema: { name: 'x', schema: { type: 'objectt' } } },
    } as Partial<ChatCompletionRequest>,
    'response_format.json_schema.schema',
  )
  rejects(
    {
      tools: [{ type: 'function', function: { name: 'f', parameters: { type: 'objectt' } } }],
    } as Partial<ChatCompletionRequest>,
    'tools[0].function.parameters',
  )
})

test('inline images and files that are empty or not base64 are refused, naming the part', () => {
  const image = (url: string) =>
    ({
      messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url } }] }],
    }) as Partial<ChatCompletionRequest>
  const file = (file_data: string) =>
    ({
      messages: [{ role: 'user', content: [{ type: 'file', file: { file_data } }] }],
    }) as Partial<ChatCompletionRequest>
  for (const data of ['', 'not base64!', 'iVBORw0KGgo', 'iVBO=w0K', '@@@@'])
    rejects(image(`data:image/png;base64,${data}`), 'messages[0].content[0].image_url.url')
  for (const type of ['application/pdf', 'text/plain'])
    for (const data of ['', '%PDF-1.4', 'JVBERi0xLjQ'])
      rejects(file(`data:${type};base64,${data}`), 'messages[0].content[0].file.file_data')
  const accepted = plan(image('data:image/png;base64,iVBORw0KGgo='))
  assert.deepEqual(accepted.input, {
    kind: 'user',
    content: [{ type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'iVBORw0KGgo=' } }],
  })
  assert.equal(plan(file('data:application/pdf;base64,JVBERi0xLjQ=')).input.kind, 'user')
})

test('tool_choice must name one of the tools, and needs tools', () => {
  const tools = [{ type: 'function' as const, function: { name: 'lookup' } }]
  rejects({ tools, tool_choice: { type: 'function', function: { name: 'other' } } }, 'tool_choice')
  rejects({ tool_choice: { type: 'function', function: { name: 'lookup' } } }, 'tool_choice')
  rejects({ tool_choice: 'required' }, 'tool_choice')
  const chosen = plan({ tools, tool_choice: { type: 'function', function: { name: 'lookup' } } })
  assert.equal(chosen.tools.length, 1)
  assert.equal(plan({ tool_choice: 'auto' }).tools.length, 0)
})

/** `{"a":{"a":…1…}}`, `depth` objects deep, built without recursion. */
function nested(depth: number): Record<string, unknown> {
  let value: Record<string, unknown> = {}
  for (let i = 0; i < depth; i++) value = { a: value }
  return value
}

test('function-call arguments nested deeper than server.maxJsonDepth are refused like a deep body', () => {
  const depth = config.server.maxJsonDepth
  const call = (args: string) =>
    ({
      messages: [
        { role: 'user', content: 'a' },
        assistantCallingF('c1', args),
        { role: 'tool', tool_call_id: 'c1', content: 'r' },
      ],
    }) as Partial<ChatCompletionRequest>
  const param = 'messages[1].tool_calls[0].function.arguments'
  assert.throws(
    () => plan(call(`${'['.repeat(20_000)}${']'.repeat(20_000)}`)),
    (error: unknown) =>
      error instanceof OpenAIError && error.param === param && error.code === 'json_too_deep',
  )
  const atLimit = `${'['.repeat(depth)}${']'.repeat(depth)}`
  assert.equal(plan(call(atLimit)).input.kind, 'tool_results')
})

test('client data that cannot be serialised is a 400 naming it, never an exception', () => {
  // Deeper than JSON.stringify can go: the edge refuses such a body, this is the check behind it.
  // (`rejects` would print the body: it cannot be printed either.)
  const refused = (body: Partial<ChatCompletionRequest>, param: string) =>
    assert.throws(
      () => plan(body),
      (error: unknown) => error instanceof OpenAIError && error.status === 400 && error.param === param,
    )
  const tools = [{ type: 'function' as const, function: { name: 'f', parameters: nested(20_000) } }]
  refused({ tools }, 'tools[0].function.parameters')
  refused(
    { response_format: { type: 'json_schema', json_schema: { name: 'x', schema: nested(20_000) } } },
    'response_format.json_schema.schema',
  )
})

test("the gateway's default tools a user may not have are left out; the tools the request names are kept", () => {
  const configured = { ...config, openai: { ...config.openai, defaultTools: ['Read', 'WebSearch'] } }
  const request = {
    model: 'claude-code',
    messages: [{ role: 'user', content: 'hi' }],
    allowed_tools: ['Grep'],
  } as unknown as ChatCompletionRequest
  const limited = planRequest(request, configured, model, { allowedTools: ['Read', 'Grep'] })
  assert.deepEqual(limited.settings.tools, ['Read', 'Grep'])
  const anyTools = planRequest(request, configured, model)
  assert.deepEqual(anyTools.settings.tools, ['Read', 'WebSearch', 'Grep'])
})
