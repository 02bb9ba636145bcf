/**
 * A /v1 stream is written at the pace its client reads (the SSE writer both APIs share, src/api/sse.ts): a
 * client that reads slowly gets the whole answer; one that stops reading is cut off after
 * `native.stallTimeoutMs` with a last frame in OpenAI's error shape, and its turn is interrupted.
 */
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { connect } from 'node:net'
import { describe, test } from 'node:test'
import { withGateway } from '../support/harness.js'
import { postChatCompletion } from '../support/openai.js'
import { text } from '../support/scripted-anthropic.js'
import { waitUntil } from '../support/wait.js'

const STALL_TIMEOUT_MS = 300

describe('OpenAI streaming at the client’s pace', () => {
  const g = withGateway({
    pool: { warmSpares: 0 },
    native: { maxBufferedBytes: 4096, stallTimeoutMs: STALL_TIMEOUT_MS },
  })

  const ask = (content: string) =>
    postChatCompletion(g.gateway, {
      model: 'claude-code',
      stream: true,
      messages: [{ role: 'user', content }],
    })

  /** The `data:` payloads of an OpenAI stream. */
  const payloads = (body: string) =>
    body
      .split('\n\n')
      .filter((frame) => frame.startsWith('data: '))
      .map((frame) => frame.slice('data: '.length))

  test('a client that reads slowly gets the whole answer', async () => {
    const answer = 'z'.repeat(200_000)
    g.home.model.script(text(answer, { chunkSize: 500 }))
    const response = await ask('slowly')
    assert.equal(response.status, 200)
    const reader = response.body!.getReader()
    const decoder = new TextDecoder()
    let body = ''
    for (let read = await reader.read(); !read.done; read = await reader.read()) {
      body += decoder.decode(read.value, { stream: true })
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
    const data = payloads(body)
    assert.equal(data.at(-1), '[DONE]')
    const chunks = data.slice(0, -1).map((payload) => JSON.parse(payload))
    assert.ok(chunks.every((chunk) => chunk.error === undefined))
    assert.equal(chunks.map((chunk) => chunk.choices[0].delta.content ?? '').join(''), answer)
    assert.equal(chunks.at(-1).choices[0].finish_reason, 'stop')
  })

  test('a client that stops reading is cut off with an OpenAI error, and its turn is interrupted', async () => {
    g.home.model.script(text('y'.repeat(20_000_000), { chunkSize: 20_000, chunkDelayMs: 20 }))
    // On a socket of its own, which stops reading once the headers are in (fetch would buffer the lot).
    const { hostname, port } = new URL(g.url)
    const socket = connect({ host: hostname, port: Number(port) })
    const body = JSON.stringify({
      model: 'claude-code',
      stream: true,
      messages: [{ role: 'user', content: 'a lot' }],
    })
    socket.write(
      `POST /v1/chat/completions HTTP/1.1\r\nHost: ${hostname}:${port}\r\nContent-Type: application/json\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    )
    const received: Buffer[] = []
    socket.on('data', (data: Buffer) => received.push(data))
    await once(socket, 'data')
    socket.pause()
    const head = Buffer.concat(received).toString('latin1')
    assert.match(head, /^HTTP\/1\.1 200 /)
    const sessionId = /\r\nx-session-id: ([^\r]+)\r\n/i.exec(head)![1]!

    const completed = await waitUntil(
      async () =>
        (await g.gateway.context.bus.replay(sessionId)).find((event) => event.type === 'turn.completed'),
      30_000,
      'the turn to end',
    )
    assert.equal(completed.type === 'turn.completed' && completed.status, 'interrupted')
    // The response ends (its last chunk) after all that waited; the connection itself is kept alive.
    const ended = new Promise<void>((resolve) =>
      socket.on('data', () => {
        if (Buffer.concat(received.slice(-2)).toString('latin1').endsWith('\r\n0\r\n\r\n')) resolve()
      }),
    )
    socket.resume()
    await ended
    socket.destroy()
    const last = JSON.parse(payloads(dechunked(Buffer.concat(received)).toString('utf8')).at(-1)!)
    assert.deepEqual(Object.keys(last), ['error'])
    assert.equal(last.error.code, 'slow_consumer')
    assert.equal(last.error.type, 'server_error')
    assert.match(last.error.message, new RegExp(`${STALL_TIMEOUT_MS} ms`))
  })
})

/** The body of a chunked HTTP/1.1 response, as it came off the socket. */
function dechunked(response: Buffer): Buffer {
  const pieces: Buffer[] = []
  let at = response.indexOf('\r\n\r\n') + 4
  for (;;) {
    const lineEnd = response.indexOf('\r\n', at)
    const size = Number.parseInt(response.subarray(at, lineEnd).toString('latin1'), 16)
    if (!(size > 0)) return Buffer.concat(pieces)
    pieces.push(response.subarray(lineEnd + 2, lineEnd + 2 + size))
    at = lineEnd + 2 + size + 2
  }
}
