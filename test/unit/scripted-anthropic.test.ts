/** The scripted Messages API speaks Anthropic's wire format, streaming and not, and records requests. */
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { failure, ScriptedAnthropic, text, toolCall } from '../support/scripted-anthropic.js'

let api: ScriptedAnthropic
before(async () => {
  api = new ScriptedAnthropic()
  await api.start()
})
after(async () => {
  await api.stop()
})

const post = (body: object) =>
  fetch(`${api.url}/v1/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'claude-test', max_tokens: 100, ...body }),
  })

test('non-streaming replies are whole messages, in order, then the fallback', async () => {
  api.reset()
  api.script(text('first'), toolCall('Bash', { command: 'ls' }))
  const messages = [{ role: 'user', content: 'hi' }]
  const one = (await (await post({ messages })).json()) as Record<string, unknown>
  assert.equal(one.type, 'message')
  assert.deepEqual(one.content, [{ type: 'text', text: 'first' }])
  assert.equal(one.stop_reason, 'end_turn')
  const two = (await (await post({ messages })).json()) as {
    content: { type: string; id: string }[]
    stop_reason: string
  }
  assert.equal(two.stop_reason, 'tool_use')
  assert.equal(two.content[0]!.type, 'tool_use')
  assert.match(two.content[0]!.id, /^toolu_/)
  const three = (await (await post({ messages })).json()) as { content: unknown[] }
  assert.deepEqual(three.content, [{ type: 'text', text: 'ok' }])
  assert.equal(api.turns.length, 3)
  assert.deepEqual(api.turns[0]!.body.messages, messages)
})

test('streaming replies are SSE from message_start to message_stop, split into deltas', async () => {
  api.reset()
  api.script({
    blocks: [
      { type: 'thinking', thinking: 'hmm...' },
      { type: 'text', text: 'abcdefgh' },
    ],
    chunkSize: 3,
  })
  const response = await post({ stream: true, messages: [{ role: 'user', content: 'hi' }] })
  assert.equal(response.headers.get('content-type'), 'text/event-stream')
  const events = (await response.text())
    .split('\n\n')
    .filter(Boolean)
    .map(
      (frame) =>
        JSON.parse(frame.split('\n')[1]!.slice('data: '.length)) as {
          type: string
          delta?: Record<string, string>
        },
    )
  assert.equal(events[0]!.type, 'message_start')
  assert.equal(events.at(-1)!.type, 'message_stop')
  const text = events.filter((e) => e.delta?.type === 'text_delta').map((e) => e.delta!.text)
  assert.deepEqual(text, ['abc', 'def', 'gh'])
  const thinking = events.filter((e) => e.delta?.type === 'thinking_delta').map((e) => e.delta!.thinking)
  assert.deepEqual(thinking, ['hmm', '...'])
  assert.ok(events.some((e) => e.delta?.type === 'signature_delta'))
})

test('a scripted failure answers with its status and an Anthropic error body', async () => {
  api.reset()
  api.script({ ...failure(429, 'slow down', 'rate_limit_error'), headers: { 'retry-after': '3' } })
  const response = await post({ messages: [{ role: 'user', content: 'hi' }] })
  assert.equal(response.status, 429)
  assert.equal(response.headers.get('retry-after'), '3')
  assert.deepEqual(await response.json(), {
    type: 'error',
    error: { type: 'rate_limit_error', message: 'slow down' },
  })
})

test('a reply factory sees the request it answers', async () => {
  api.reset()
  api.fallback = (request) => text(`you said ${JSON.stringify(request.body.messages?.at(-1)?.content)}`)
  const reply = (await (await post({ messages: [{ role: 'user', content: 'ping' }] })).json()) as {
    content: { text: string }[]
  }
  assert.equal(reply.content[0]!.text, 'you said "ping"')
})
