/**
 * The OpenAI-compatible provider with the official `openai` SDK, the real CLI and the scripted model:
 * exact response and chunk shapes, continuation without replay, faithful history, images, errors.
 */
import assert from 'node:assert/strict'
import { before, describe, test } from 'node:test'
import type OpenAI from 'openai'
import { withGateway, withOwnGateway } from '../support/harness.js'
import { openaiClient, postChatCompletion } from '../support/openai.js'
import { chatUsage } from '../support/openai-usage.js'
import {
  conversationTexts,
  failure,
  lastUserText,
  type RecordedRequest,
  text,
} from '../support/scripted-anthropic.js'

const PNG_1PX =
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=='

const COMPLETION_KEYS = ['choices', 'created', 'id', 'model', 'object', 'system_fingerprint', 'usage']
const CHUNK_KEYS = ['choices', 'created', 'id', 'model', 'object', 'system_fingerprint']
const USAGE_KEYS = [
  'completion_tokens',
  'completion_tokens_details',
  'prompt_tokens',
  'prompt_tokens_details',
  'total_tokens',
]

const sorted = (value: object) => Object.keys(value).sort()

describe('OpenAI provider with the openai SDK', () => {
  const g = withGateway({ pool: { warmSpares: 1 } })
  let client: OpenAI
  before(() => {
    client = openaiClient(g.gateway)
  })

  test('models are listed in OpenAI shape and each can be fetched', async () => {
    const list = await client.models.list()
    const ids = list.data.map((m) => m.id)
    for (const id of ['claude-code', 'claude-code-opus', 'claude-code-sonnet', 'claude-code-haiku'])
      assert.ok(ids.includes(id))
    for (const model of list.data) {
      assert.deepEqual(sorted(model), ['created', 'id', 'object', 'owned_by'])
      assert.equal(model.object, 'model')
      assert.ok(Number.isInteger(model.created))
    }
    const one = await client.models.retrieve('claude-code-sonnet')
    assert.equal(one.id, 'claude-code-sonnet')
    await assert.rejects(client.models.retrieve('gpt-4o'), (error: InstanceType<typeof OpenAI.APIError>) => {
      assert.equal(error.status, 404)
      assert.equal(error.code, 'model_not_found')
      return true
    })
  })

  test('a completion has OpenAI’s exact shape, with cache tokens counted as prompt tokens', async () => {
    g.home.model.script(
      text('Hello there!', {
        usage: {
          input_tokens: 20,
          output_tokens: 5,
          cache_read_input_tokens: 100,
          cache_creation_input_tokens: 30,
        },
      }),
    )
    const response = await client.chat.completions
      .create({ model: 'claude-code-sonnet', messages: [{ role: 'user', content: 'Hi' }] })
      .withResponse()
    const completion = response.data
    assert.deepEqual(sorted(completion), COMPLETION_KEYS)
    assert.match(completion.id, /^chatcmpl-/)
    assert.equal(completion.object, 'chat.completion')
    assert.ok(Number.isInteger(completion.created))
    assert.equal(completion.model, 'claude-code-sonnet')
    assert.equal(completion.choices.length, 1)
    const [choice] = completion.choices
    assert.deepEqual(sorted(choice!), ['finish_reason', 'index', 'logprobs', 'message'])
    assert.equal(choice!.index, 0)
    assert.equal(choice!.finish_reason, 'stop')
    assert.deepEqual(choice!.message, { role: 'assistant', content: 'Hello there!', refusal: null })
    assert.deepEqual(sorted(completion.usage!), USAGE_KEYS)
    assert.deepEqual(completion.usage, chatUsage({ prompt: 150, completion: 5, total: 155, cached: 100 }))
    assert.ok(response.response.headers.get('x-request-id'))
    assert.match(response.response.headers.get('server-timing') ?? '', /gateway;dur=[\d.]+/)
    assert.match(String(g.home.model.turns.at(-1)!.body.model), /sonnet/, 'the model map chose Claude Sonnet')
  })

  test('streaming is token by token: role first, a finish chunk, a usage chunk, then [DONE]', async () => {
    g.home.model.script(text('streamed answer', { chunkSize: 3 }))
    const stream = await client.chat.completions.create({
      model: 'claude-code',
      messages: [{ role: 'user', content: 'stream please' }],
      stream: true,
      stream_options: { include_usage: true },
    })
    const chunks = []
    for await (const chunk of stream) chunks.push(chunk)
    for (const chunk of chunks) {
      assert.deepEqual(sorted(chunk), [...CHUNK_KEYS, 'usage'].sort())
      assert.equal(chunk.object, 'chat.completion.chunk')
      assert.equal(chunk.id, chunks[0]!.id)
      assert.equal(chunk.created, chunks[0]!.created)
      assert.equal(chunk.model, 'claude-code')
    }
    const content = chunks.slice(0, -2)
    assert.equal(content[0]!.choices[0]!.delta.role, 'assistant')
    assert.ok(content.length >= 5, 'one chunk per model delta')
    assert.equal(content.map((c) => c.choices[0]!.delta.content).join(''), 'streamed answer')
    for (const chunk of content) assert.equal(chunk.choices[0]!.finish_reason, null)
    const finish = chunks.at(-2)!
    assert.deepEqual(finish.choices[0]!.delta, {})
    assert.equal(finish.choices[0]!.finish_reason, 'stop')
    const usage = chunks.at(-1)!
    assert.deepEqual(usage.choices, [])
    assert.equal(usage.usage!.completion_tokens, 7)

    const raw = await postChatCompletion(g.gateway, {
      model: 'claude-code',
      stream: true,
      messages: [{ role: 'user', content: 'raw' }],
    })
    const body = await raw.text()
    assert.equal(raw.headers.get('content-type'), 'text/event-stream; charset=utf-8')
    assert.ok(body.endsWith('data: [DONE]\n\n'))
    assert.ok(!body.includes('"usage":'), 'no usage field without stream_options.include_usage')
  })

  test('a follow-up continues the live session: no new process, only the new turn is sent', async () => {
    g.home.model.script(text('Nice to meet you, Ada.'), text('Your name is Ada.'))
    const messages: OpenAI.ChatCompletionMessageParam[] = [
      { role: 'system', content: 'You are terse.' },
      { role: 'developer', content: 'Answer in English.' },
      { role: 'user', content: 'My name is Ada.' },
    ]
    const first = await client.chat.completions.create({ model: 'claude-code', messages }).withResponse()
    const sessionId = first.response.headers.get('x-session-id')
    const pid = g.gateway.context.engine.runnerOf(sessionId!)!.pid
    const sessions = (await g.gateway.context.engine.stats()).sessions
    messages.push(first.data.choices[0]!.message, { role: 'user', content: 'What is my name?' })
    const second = await client.chat.completions.create({ model: 'claude-code', messages }).withResponse()
    assert.equal(second.data.choices[0]!.message.content, 'Your name is Ada.')
    assert.equal(second.response.headers.get('x-session-id'), sessionId)
    assert.equal(g.gateway.context.engine.runnerOf(sessionId!)!.pid, pid, 'the same process')
    assert.equal((await g.gateway.context.engine.stats()).sessions, sessions, 'no new session')
    const last = g.home.model.turns.at(-1)!.body
    assert.deepEqual(conversationTexts(last), [
      { role: 'user', text: 'My name is Ada.' },
      { role: 'assistant', text: 'Nice to meet you, Ada.' },
      { role: 'user', text: 'What is my name?' },
    ])
    const system = JSON.stringify(last.system)
    assert.ok(
      system.includes('You are terse.') && system.includes('Answer in English.'),
      'system and developer messages reach Claude',
    )
  })

  test('a history the gateway has not seen reaches Claude as real turns, not one flattened prompt', async () => {
    g.home.model.script(text('It was blue.'))
    await client.chat.completions.create({
      model: 'claude-code',
      messages: [
        { role: 'user', content: 'Pick a colour.' },
        { role: 'assistant', content: 'Blue.' },
        { role: 'user', content: 'Which colour did you pick?' },
      ],
    })
    assert.deepEqual(conversationTexts(g.home.model.turns.at(-1)!.body), [
      { role: 'user', text: 'Pick a colour.' },
      { role: 'assistant', text: 'Blue.' },
      { role: 'user', text: 'Which colour did you pick?' },
    ])
  })

  test('images as data URLs reach Claude as image blocks; remote URLs are refused by default', async () => {
    g.home.model.script(text('A single pixel.'))
    await client.chat.completions.create({
      model: 'claude-code',
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'What is in this image?' },
            { type: 'image_url', image_url: { url: `data:image/png;base64,${PNG_1PX}` } },
          ],
        },
      ],
    })
    const user = g.home.model.turns.at(-1)!.body.messages!.findLast((m) => m.role === 'user')!
    const image = (user.content as { type: string; source?: { media_type: string; data: string } }[]).find(
      (b) => b.type === 'image',
    )
    assert.equal(image?.source?.media_type, 'image/png')
    assert.equal(image?.source?.data, PNG_1PX)
    assert.ok(lastUserText(g.home.model.turns.at(-1)!.body).startsWith('What is in this image?'))

    await assert.rejects(
      client.chat.completions.create({
        model: 'claude-code',
        messages: [
          {
            role: 'user',
            content: [{ type: 'image_url', image_url: { url: 'https://example.com/cat.png' } }],
          },
        ],
      }),
      (error: InstanceType<typeof OpenAI.APIError>) => {
        assert.equal(error.status, 400)
        assert.equal(error.param, 'messages[0].content[0].image_url.url')
        return true
      },
    )
  })

  test('bad requests get OpenAI error objects naming the parameter', async () => {
    const post = (body: unknown) => postChatCompletion(g.gateway, body)
    const cases: [unknown, number, string | null][] = [
      ['{not json', 400, null],
      [{ messages: [{ role: 'user', content: 'x' }] }, 400, 'model'],
      [{ model: 'claude-code', messages: [] }, 400, 'messages'],
      [{ model: 'claude-code', messages: [{ role: 'user', content: 'x' }], n: 2 }, 400, 'n'],
      [{ model: 'claude-code', messages: [{ role: 'user', content: 'x' }], logprobs: true }, 400, 'logprobs'],
      [{ model: 'claude-code', messages: [{ role: 'assistant', content: 'x' }] }, 400, 'messages'],
      [
        { model: 'claude-code', messages: [{ role: 'user', content: 'x' }], allowed_tools: ['Bash'] },
        400,
        'allowed_tools[0]',
      ],
      [
        {
          model: 'claude-code',
          messages: [{ role: 'user', content: 'x' }],
          permission_mode: 'bypassPermissions',
        },
        400,
        'permission_mode',
      ],
      [{ model: 'nope', messages: [{ role: 'user', content: 'x' }] }, 404, 'model'],
      [
        { model: 'claude-code', messages: [{ role: 'user', content: 'x' }], max_tokens: '16' },
        400,
        'max_tokens',
      ],
      [{ model: 'claude-code', messages: [{ role: 'user', content: 'x' }], functions: [] }, 400, 'functions'],
      [
        { model: 'claude-code', messages: [{ role: 'user', content: 'x' }], logit_bias: { '1': 2 } },
        400,
        'logit_bias',
      ],
      [{ model: 'claude-code', messages: [{ role: 'user', content: 'x' }], agent: 'reviewer' }, 400, 'agent'],
    ]
    for (const [body, status, param] of cases) {
      const response = await post(body)
      assert.equal(response.status, status, JSON.stringify(body))
      const error = (await response.json()) as { error: Record<string, unknown> }
      assert.deepEqual(sorted(error.error), ['code', 'message', 'param', 'type'])
      assert.equal(error.error.param, param, JSON.stringify(body))
      assert.ok(response.headers.get('x-request-id'))
    }
    // Refused by Fastify before routing, still in OpenAI's shape and with a request id.
    const undecodable = await fetch(`${g.url}/v1/models/%zz`)
    assert.equal(undecodable.status, 400)
    const refused = (await undecodable.json()) as { error: Record<string, unknown> }
    assert.deepEqual(sorted(refused.error), ['code', 'message', 'param', 'type'])
    assert.equal(refused.error.type, 'invalid_request_error')
    assert.ok(undecodable.headers.get('x-request-id'))
    const large = await post({
      model: 'claude-code',
      messages: [{ role: 'user', content: 'x'.repeat(g.gateway.context.config.server.bodyLimitBytes) }],
    })
    assert.equal(large.status, 413)
  })

  test('upstream failures become the status LiteLLM acts on, before any byte is sent', async () => {
    g.home.model.script(
      failure(400, 'prompt is too long: 250000 tokens > 200000 maximum', 'invalid_request_error'),
    )
    await assert.rejects(
      client.chat.completions.create({
        model: 'claude-code',
        messages: [{ role: 'user', content: 'too long' }],
      }),
      (error: InstanceType<typeof OpenAI.APIError>) => {
        assert.equal(error.status, 400)
        assert.equal(error.code, 'context_length_exceeded')
        assert.match(error.message, /This model's maximum context length is 200000 tokens/)
        return true
      },
    )
  })
})

describe('OpenAI provider: API keys', () => {
  test('keys are required when configured; health stays open', async () =>
    withOwnGateway({ server: { apiKeys: ['sk-test-1'] } }, async (gateway) => {
      const missing = await fetch(`${gateway.url}/v1/models`)
      assert.equal(missing.status, 401)
      assert.equal(((await missing.json()) as { error: { code: string } }).error.code, 'invalid_api_key')
      const wrong = await fetch(`${gateway.url}/v1/models`, { headers: { authorization: 'Bearer sk-wrong' } })
      assert.equal(wrong.status, 401)
      const right = await fetch(`${gateway.url}/v1/models`, {
        headers: { authorization: 'Bearer sk-test-1' },
      })
      assert.equal(right.status, 200)
      assert.equal((await fetch(`${gateway.url}/v1/health`)).status, 200)
    }))
})

describe('OpenAI provider: thinking, structured output, stop, limits and failures', () => {
  const g = withGateway(
    { pool: { maxRunners: 2, queueSize: 0 }, openai: { keepAliveMs: 100, retryBudgetMs: 1_500 } },
    (home) => {
      home.env.CLAUDE_CODE_MAX_RETRIES = '3'
    },
  )
  let client: OpenAI
  before(() => {
    client = openaiClient(g.gateway)
  })

  const thinkingReply = () => ({
    blocks: [
      { type: 'thinking' as const, thinking: 'Two plus two is four.', signature: 'sig-abc' },
      { type: 'text' as const, text: '4' },
    ],
    chunkSize: 5,
    usage: { output_tokens: 30 },
  })

  test('thinking comes back as reasoning_content and thinking_blocks; reasoning_effort reaches Claude', async () => {
    g.home.model.script(thinkingReply())
    const completion = await client.chat.completions.create({
      model: 'claude-code',
      reasoning_effort: 'high',
      messages: [{ role: 'user', content: '2+2?' }],
    })
    const message = completion.choices[0]!.message as unknown as Record<string, unknown>
    assert.equal(message.content, '4')
    assert.equal(message.reasoning_content, 'Two plus two is four.')
    assert.deepEqual(message.thinking_blocks, [
      { type: 'thinking', thinking: 'Two plus two is four.', signature: 'sig-abc' },
    ])
    const body = g.home.model.turns.at(-1)!.body as { output_config?: { effort?: string } }
    assert.equal(body.output_config?.effort, 'high')

    g.home.model.script(thinkingReply())
    const stream = await client.chat.completions.create({
      model: 'claude-code',
      messages: [{ role: 'user', content: '2+2 again?' }],
      stream: true,
      // a thinking budget through extra_body (sent top-level by the SDK)
      ...({ thinking: { type: 'enabled', budget_tokens: 2048 } } as object),
    })
    let reasoning = ''
    let content = ''
    for await (const chunk of stream) {
      const delta = chunk.choices[0]?.delta as { content?: string; reasoning_content?: string } | undefined
      reasoning += delta?.reasoning_content ?? ''
      content += delta?.content ?? ''
    }
    assert.equal(reasoning, 'Two plus two is four.')
    assert.equal(content, '4')
    assert.notEqual(g.home.model.turns.at(-1)!.body.thinking?.type, 'disabled')
  })

  test('response_format json_schema returns Claude Code’s structured output as the content', async () => {
    const schema = { type: 'object', properties: { answer: { type: 'number' } }, required: ['answer'] }
    g.home.model.fallback = (request) => {
      const names = (request.body.tools ?? []).map((t) => t.name)
      const structured = names.find((n) => /structured/i.test(n))
      return structured
        ? { blocks: [{ type: 'tool_use', name: structured, input: { answer: 4 } }] }
        : text('done')
    }
    try {
      const completion = await client.chat.completions.create({
        model: 'claude-code',
        messages: [{ role: 'user', content: '2+2 as JSON' }],
        response_format: { type: 'json_schema', json_schema: { name: 'sum', schema } },
      })
      assert.deepEqual(JSON.parse(completion.choices[0]!.message.content!), { answer: 4 })
    } finally {
      g.home.model.fallback = () => text('ok')
    }
  })

  test('stop sequences end the answer where they start, in streams and not', async () => {
    g.home.model.script(text('one, two, STOP three', { chunkSize: 2 }))
    const completion = await client.chat.completions.create({
      model: 'claude-code',
      messages: [{ role: 'user', content: 'count' }],
      stop: ['STOP'],
    })
    assert.equal(completion.choices[0]!.message.content, 'one, two, ')
    assert.equal(completion.choices[0]!.finish_reason, 'stop')

    g.home.model.script(text('alpha END beta', { chunkSize: 1 }))
    const stream = await client.chat.completions.create({
      model: 'claude-code',
      messages: [{ role: 'user', content: 'letters' }],
      stop: 'END',
      stream: true,
    })
    let content = ''
    for await (const chunk of stream) content += chunk.choices[0]?.delta.content ?? ''
    assert.equal(content, 'alpha ')
  })

  test('max_tokens caps Claude’s output and ends the answer with finish_reason length', async () => {
    g.home.model.script(text('short'))
    await client.chat.completions.create({
      model: 'claude-code',
      max_tokens: 16,
      messages: [{ role: 'user', content: 'hi' }],
    })
    assert.equal(g.home.model.turns.at(-1)!.body.max_tokens, 16)

    // Claude Code would ask the model to go on past the limit; the answer stops at it instead.
    g.home.model.script(
      text('The first part is cut', { stopReason: 'max_tokens' }),
      text('and this never shows'),
    )
    const cut = await client.chat.completions.create({
      model: 'claude-code',
      max_tokens: 5,
      messages: [{ role: 'user', content: 'long story' }],
    })
    assert.equal(cut.choices[0]!.finish_reason, 'length')
    assert.equal(cut.choices[0]!.message.content, 'The first part is cut')
    g.home.model.clearScript()
  })

  test('a client that disconnects interrupts the turn; keep-alive comments fill long silences', async () => {
    g.home.model.script(text('x'.repeat(400), { chunkSize: 2, chunkDelayMs: 25 }))
    const controller = new AbortController()
    const response = await postChatCompletion(
      g.gateway,
      {
        model: 'claude-code',
        stream: true,
        messages: [{ role: 'user', content: 'long' }],
      },
      controller.signal,
    )
    const sessionId = response.headers.get('x-session-id')!
    const reader = response.body!.getReader()
    let received = ''
    while (received.split('data: ').length < 4)
      received += new TextDecoder().decode((await reader.read()).value)
    controller.abort()
    const events = await g.gateway.context.bus.replay(sessionId)
    const deadline = Date.now() + 10_000
    let completed = events.find((e) => e.type === 'turn.completed')
    while (!completed && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50))
      completed = (await g.gateway.context.bus.replay(sessionId)).find((e) => e.type === 'turn.completed')
    }
    assert.equal(completed?.type === 'turn.completed' && completed.status, 'interrupted')

    g.home.model.script({ blocks: [{ type: 'text', text: 'ab' }], chunkSize: 1, chunkDelayMs: 400 })
    const quiet = await postChatCompletion(g.gateway, {
      model: 'claude-code',
      stream: true,
      messages: [{ role: 'user', content: 'slow' }],
    })
    const body = await quiet.text()
    assert.ok(body.includes(': keep-alive\n\n'), 'a comment line during the silence')
    assert.ok(body.endsWith('data: [DONE]\n\n'))
  })

  test('after the first byte, a failure travels as an SSE error event before [DONE]', async () => {
    g.home.model.script(text('x'.repeat(300), { chunkSize: 1, chunkDelayMs: 20 }))
    const response = await postChatCompletion(g.gateway, {
      model: 'claude-code',
      stream: true,
      messages: [{ role: 'user', content: 'crash' }],
    })
    assert.equal(response.status, 200)
    const reader = response.body!.getReader()
    let body = new TextDecoder().decode((await reader.read()).value)
    process.kill(g.gateway.context.engine.runnerOf(response.headers.get('x-session-id')!)!.pid!, 'SIGKILL')
    for (;;) {
      const { value, done } = await reader.read()
      if (done) break
      body += new TextDecoder().decode(value)
    }
    const data = body
      .split('\n\n')
      .filter((frame) => frame.startsWith('data: '))
      .map((frame) => frame.slice('data: '.length))
    assert.equal(data.at(-1), '[DONE]')
    const error = JSON.parse(data.at(-2)!) as { error: { code: string; type: string } }
    assert.equal(error.error.code, 'upstream_process_exited')
    assert.equal(error.error.type, 'server_error')
  })

  test('PDF files arrive as documents; thinking_blocks of earlier answers are accepted', async () => {
    g.home.model.script(text('It is a PDF.'))
    const pdf = Buffer.from('%PDF-1.4 tiny').toString('base64')
    await client.chat.completions.create({
      model: 'claude-code',
      messages: [
        { role: 'user', content: 'Think first.' },
        {
          role: 'assistant',
          content: 'Thought about it.',
          ...({ thinking_blocks: [{ type: 'thinking', thinking: 'hmm', signature: 'sig-1' }] } as object),
        },
        {
          role: 'user',
          content: [
            { type: 'text', text: 'What is this file?' },
            { type: 'file', file: { file_data: `data:application/pdf;base64,${pdf}`, filename: 'tiny.pdf' } },
          ],
        },
      ],
    })
    const user = g.home.model.turns.at(-1)!.body.messages!.findLast((m) => m.role === 'user')!
    const document = (user.content as { type: string; source?: { media_type: string; data: string } }[]).find(
      (b) => b.type === 'document',
    )
    assert.equal(document?.source?.media_type, 'application/pdf')
    assert.equal(document?.source?.data, pdf)
  })

  test('a busy gateway answers 429 with Retry-After; an overloaded upstream fails fast with 503', async () => {
    g.home.model.script(
      text('a'.repeat(200), { chunkSize: 1, chunkDelayMs: 20 }),
      text('b'.repeat(200), { chunkSize: 1, chunkDelayMs: 20 }),
    )
    const running = [
      client.chat.completions.create({ model: 'claude-code', messages: [{ role: 'user', content: 'one' }] }),
      client.chat.completions.create({ model: 'claude-code', messages: [{ role: 'user', content: 'two' }] }),
    ]
    await new Promise((resolve) => setTimeout(resolve, 1_500))
    const busy = await postChatCompletion(g.gateway, {
      model: 'claude-code',
      messages: [{ role: 'user', content: 'three' }],
    })
    assert.equal(busy.status, 429)
    assert.ok(Number(busy.headers.get('retry-after')) >= 1)
    assert.equal(((await busy.json()) as { error: { type: string } }).error.type, 'rate_limit_error')
    await Promise.all(running)

    const overloaded = failure(529, 'Overloaded', 'overloaded_error')
    g.home.model.fallback = () => overloaded
    try {
      const started = Date.now()
      const response = await postChatCompletion(g.gateway, {
        model: 'claude-code',
        messages: [{ role: 'user', content: 'four' }],
      })
      assert.equal(response.status, 503)
      assert.ok(response.headers.get('retry-after'))
      assert.ok(Date.now() - started < 15_000, 'failed fast instead of waiting out every retry')
    } finally {
      g.home.model.fallback = () => text('ok')
    }
  })

  test("Claude's API refusing the credentials answers 401 at once, naming the cause", async () => {
    g.home.model.fallback = () => failure(401, 'invalid x-api-key', 'authentication_error')
    try {
      const asked = g.home.model.turns.length
      const started = Date.now()
      const response = await postChatCompletion(g.gateway, {
        model: 'claude-code',
        messages: [{ role: 'user', content: 'five' }],
      })
      assert.equal(response.status, 401)
      assert.equal(response.headers.get('retry-after'), null)
      const { error } = (await response.json()) as { error: { type: string; code: string; message: string } }
      assert.equal(error.type, 'authentication_error')
      assert.equal(error.code, 'upstream_auth_failed')
      assert.match(error.message, /credentials/)
      assert.equal(g.home.model.turns.length - asked, 1, 'not retried')
      // One model request proves it; the bound catches a wait on Claude Code's backoff (minutes), with room
      // for a process start on a loaded machine.
      assert.ok(Date.now() - started < 20_000, `answered after ${Date.now() - started} ms`)
    } finally {
      g.home.model.fallback = () => text('ok')
    }
  })
})

describe('OpenAI provider without a usable CLI', () => {
  test('completions answer 503 with the reason; models and health still answer', async () =>
    withOwnGateway({ claude: { cliPath: '/nonexistent/claude' } }, async (gateway) => {
      const response = await postChatCompletion(gateway, {
        model: 'claude-code',
        messages: [{ role: 'user', content: 'hi' }],
      })
      assert.equal(response.status, 503)
      const body = (await response.json()) as { error: { message: string; code: string } }
      assert.equal(body.error.code, 'service_unavailable')
      assert.match(body.error.message, /nonexistent/)
      assert.equal((await fetch(`${gateway.url}/v1/models`)).status, 200)
    }))
})

describe('OpenAI provider: client function tools', () => {
  const g = withGateway({ openai: { toolCallTimeoutMs: 2_000 } })
  let client: OpenAI
  const weather: OpenAI.ChatCompletionTool = {
    type: 'function',
    function: {
      name: 'get_weather',
      description: 'Weather for a city',
      parameters: {
        type: 'object',
        properties: {
          city: { type: 'string', description: 'City name' },
          unit: { type: 'string', enum: ['c', 'f'] },
        },
        required: ['city'],
        additionalProperties: false,
      },
    },
  }
  const time: OpenAI.ChatCompletionTool = {
    type: 'function',
    function: { name: 'get_time', parameters: { type: 'object', properties: { tz: { type: 'string' } } } },
  }
  /** The model calls the client's function(s) once, then answers with the results it was given. */
  const callThenAnswer =
    (calls: { name: string; input: Record<string, unknown> }[]) => (request: RecordedRequest) => {
      const last = request.body.messages?.findLast((m) => m.role === 'user')
      const results = Array.isArray(last?.content) ? last.content.filter((b) => b.type === 'tool_result') : []
      if (results.length === 0) {
        return {
          blocks: calls.map((c) => ({
            type: 'tool_use' as const,
            name: `mcp__client__${c.name}`,
            input: c.input,
          })),
        }
      }
      return text(`Results: ${results.map((r) => JSON.stringify(r.content)).join(' | ')}`)
    }

  before(() => {
    client = openaiClient(g.gateway)
  })

  test('a tool round trip: tool_calls, then role tool results continue the same Claude turn', async () => {
    g.home.model.fallback = callThenAnswer([{ name: 'get_weather', input: { city: 'Paris' } }])
    try {
      const messages: OpenAI.ChatCompletionMessageParam[] = [{ role: 'user', content: 'Weather in Paris?' }]
      const first = await client.chat.completions
        .create({ model: 'claude-code', messages, tools: [weather] })
        .withResponse()
      const choice = first.data.choices[0]!
      assert.equal(choice.finish_reason, 'tool_calls')
      assert.equal(choice.message.content, null)
      const [call] = choice.message.tool_calls as OpenAI.ChatCompletionMessageFunctionToolCall[]
      assert.equal(call!.type, 'function')
      assert.equal(call!.function.name, 'get_weather')
      assert.deepEqual(JSON.parse(call!.function.arguments), { city: 'Paris' })
      assert.ok(first.data.usage && first.data.usage.completion_tokens > 0, 'usage of the response so far')
      const offered = g.home.model.turns
        .at(-1)!
        .body.tools!.find((t) => t.name === 'mcp__client__get_weather') as
        | { input_schema: unknown }
        | undefined
      assert.deepEqual(
        offered?.input_schema,
        weather.function.parameters,
        'Claude sees the client’s schema as is',
      )

      const sessionId = first.response.headers.get('x-session-id')!
      const pid = g.gateway.context.engine.runnerOf(sessionId)!.pid
      messages.push(choice.message, { role: 'tool', tool_call_id: call!.id, content: '21°C and sunny' })
      const second = await client.chat.completions
        .create({ model: 'claude-code', messages, tools: [weather] })
        .withResponse()
      assert.equal(second.response.headers.get('x-session-id'), sessionId)
      assert.equal(second.data.choices[0]!.finish_reason, 'stop')
      assert.match(second.data.choices[0]!.message.content!, /21°C and sunny/)
      assert.equal(g.gateway.context.engine.runnerOf(sessionId)!.pid, pid)
      const turns = (await g.gateway.context.bus.replay(sessionId)).filter((e) => e.type === 'turn.started')
      assert.equal(turns.length, 1, 'one Claude turn served both requests')
    } finally {
      g.home.model.fallback = () => text('ok')
    }
  })

  test('streamed tool calls: index, id, type and name first, then the arguments; parallel calls', async () => {
    g.home.model.fallback = callThenAnswer([
      { name: 'get_weather', input: { city: 'Rome' } },
      { name: 'get_time', input: { tz: 'Europe/Rome' } },
    ])
    try {
      const messages: OpenAI.ChatCompletionMessageParam[] = [
        { role: 'user', content: 'Weather and time in Rome?' },
      ]
      const stream = await client.chat.completions.create({
        model: 'claude-code',
        messages,
        tools: [weather, time],
        stream: true,
      })
      const deltas: OpenAI.ChatCompletionChunk.Choice.Delta.ToolCall[] = []
      let finish: string | null = null
      for await (const chunk of stream) {
        deltas.push(...(chunk.choices[0]?.delta.tool_calls ?? []))
        finish = chunk.choices[0]?.finish_reason ?? finish
      }
      assert.equal(finish, 'tool_calls')
      const heads = deltas.filter((d) => d.id)
      assert.deepEqual(
        heads.map((d) => [d.index, d.type, d.function?.name, d.function?.arguments]),
        [
          [0, 'function', 'get_weather', ''],
          [1, 'function', 'get_time', ''],
        ],
      )
      const args = (index: number) =>
        deltas
          .filter((d) => d.index === index)
          .map((d) => d.function?.arguments ?? '')
          .join('')
      assert.deepEqual(JSON.parse(args(0)), { city: 'Rome' })
      assert.deepEqual(JSON.parse(args(1)), { tz: 'Europe/Rome' })

      messages.push(
        {
          role: 'assistant',
          content: null,
          tool_calls: heads.map((d) => ({
            id: d.id!,
            type: 'function' as const,
            function: { name: d.function!.name!, arguments: args(d.index) },
          })),
        },
        { role: 'tool', tool_call_id: heads[0]!.id!, content: 'rainy' },
        { role: 'tool', tool_call_id: heads[1]!.id!, content: '14:05' },
      )
      const answer = await client.chat.completions.create({
        model: 'claude-code',
        messages,
        tools: [weather, time],
      })
      assert.match(answer.choices[0]!.message.content!, /rainy/)
      assert.match(answer.choices[0]!.message.content!, /14:05/)
    } finally {
      g.home.model.fallback = () => text('ok')
    }
  })

  test('tool_choice none offers no function; results nobody waits for are refused', async () => {
    g.home.model.script(text('No tools needed.'))
    await client.chat.completions.create({
      model: 'claude-code',
      messages: [{ role: 'user', content: 'hi' }],
      tools: [weather],
      tool_choice: 'none',
    })
    assert.ok(!g.home.model.turns.at(-1)!.body.tools?.some((t) => t.name.includes('get_weather')))

    await assert.rejects(
      client.chat.completions.create({
        model: 'claude-code',
        tools: [weather],
        messages: [
          { role: 'user', content: 'Weather?' },
          {
            role: 'assistant',
            content: null,
            tool_calls: [
              { id: 'call_unknown', type: 'function', function: { name: 'get_weather', arguments: '{}' } },
            ],
          },
          { role: 'tool', tool_call_id: 'call_unknown', content: 'sunny' },
        ],
      }),
      (error: InstanceType<typeof OpenAI.APIError>) => {
        assert.equal(error.status, 400)
        assert.equal(error.code, 'tool_call_not_pending')
        return true
      },
    )
  })

  test('a call the client never answers times out and ends the turn cleanly', async () => {
    g.home.model.fallback = callThenAnswer([{ name: 'get_weather', input: { city: 'Oslo' } }])
    try {
      const first = await client.chat.completions
        .create({ model: 'claude-code', messages: [{ role: 'user', content: 'Oslo?' }], tools: [weather] })
        .withResponse()
      const sessionId = first.response.headers.get('x-session-id')!
      const deadline = Date.now() + 15_000
      while (
        (await g.gateway.context.engine.getSession(sessionId))!.state !== 'idle' &&
        Date.now() < deadline
      ) {
        await new Promise((resolve) => setTimeout(resolve, 100))
      }
      const events = await g.gateway.context.bus.replay(sessionId)
      assert.ok(events.some((e) => e.type === 'error' && e.code === 'tool_timeout'))
      const completed = events.find((e) => e.type === 'turn.completed')
      assert.equal(completed?.type === 'turn.completed' && completed.status, 'interrupted')
    } finally {
      g.home.model.fallback = () => text('ok')
    }
  })
})
