/**
 * Replaying a long backlog over SSE and the WebSocket: paced by the client's socket, so a reader that keeps
 * up receives every event exactly once and in order, then the live ones; only a reader that stops reading is
 * cut off (`slow_consumer`), after `native.stallTimeoutMs` without taking a byte.
 */
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { type IncomingMessage, request } from 'node:http'
import { describe, test } from 'node:test'
import WebSocket from 'ws'
import { withGateway } from '../support/harness.js'
import { waitUntil } from '../support/wait.js'

/** About the size of the backlog (24,200 events: cut after 4,488 when replay ignored backpressure). */
const BACKLOG = 25_000
const STALL_TIMEOUT_MS = 1000
/** A paragraph per event: 25,000 of them (about 12 MB) are more than the kernel's socket buffers hold. */
const PARAGRAPH = 'All work and no play makes Jack a dull boy. '.repeat(10)

interface Frame {
  id?: number
  event?: string
  data: { seq?: number; type?: string; code?: string; text?: string }
}

/** Parses SSE as it arrives, without re-reading what was parsed (25,000 frames). */
class SseReader {
  readonly frames: Frame[] = []
  ended = false
  private rest = ''

  push(piece: string): void {
    const blocks = (this.rest + piece).split('\n\n')
    this.rest = blocks.pop() ?? ''
    for (const block of blocks) {
      if (block.startsWith(':')) continue
      const frame: Partial<Frame> = {}
      for (const line of block.split('\n')) {
        const colon = line.indexOf(': ')
        const [key, value] = [line.slice(0, colon), line.slice(colon + 2)]
        if (key === 'id') frame.id = Number(value)
        else if (key === 'event') frame.event = value
        else if (key === 'data') frame.data = JSON.parse(value) as Frame['data']
      }
      this.frames.push(frame as Frame)
    }
  }
}

describe('replay of a long backlog honours backpressure', () => {
  const g = withGateway({ pool: { warmSpares: 0 }, native: { stallTimeoutMs: STALL_TIMEOUT_MS } })

  /** A session whose log holds `count` text deltas of about a token each (published on the bus directly). */
  async function sessionWithBacklog(count: number): Promise<string> {
    const response = await fetch(`${g.url}/api/sessions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    })
    const { id } = (await response.json()) as { id: string }
    publish(id, count)
    g.gateway.context.bus.flush()
    return id
  }

  function publish(id: string, count: number): void {
    const { bus } = g.gateway.context
    for (let i = 0; i < count; i++)
      bus.publish(id, {
        type: 'text.delta',
        turnId: 'backlog',
        text: `${bus.currentSeq(id) + 1}: ${PARAGRAPH}`,
        parentToolUseId: null,
      })
  }

  /** Opens `/events` with `Last-Event-ID: 0`; the response is not read until the caller reads it. */
  async function openEvents(id: string): Promise<IncomingMessage> {
    const response = await new Promise<IncomingMessage>((opened, failed) =>
      request(`${g.url}/api/sessions/${id}/events`, { headers: { 'last-event-id': '0' } }, opened)
        .on('error', failed)
        .end(),
    )
    assert.equal(response.statusCode, 200)
    return response
  }

  function read(response: IncomingMessage): SseReader {
    const reader = new SseReader()
    response
      .setEncoding('utf8')
      .on('data', (piece: string) => reader.push(piece))
      .on('end', () => {
        reader.ended = true
      })
    return reader
  }

  const seqsFrom = (first: number, last: number) =>
    Array.from({ length: last - first + 1 }, (_, i) => first + i)

  test('SSE: a reader that keeps up gets the whole backlog once and in order, then live events', async () => {
    const id = await sessionWithBacklog(BACKLOG)
    const response = await openEvents(id)
    const reader = read(response)
    // Live events published while the backlog is still being replayed come after it, in order.
    const received = (count: number) => () => reader.frames.length >= count || reader.ended
    await waitUntil(received(1000), 20_000, 'the replay to start')
    publish(id, 50)
    await waitUntil(received(BACKLOG + 50), 60_000, 'the backlog')
    publish(id, 20)
    await waitUntil(received(BACKLOG + 70), 10_000, 'the live events')
    response.destroy()
    assert.deepEqual(
      reader.frames.filter((f) => f.event === 'error').map((f) => f.data),
      [],
      'not cut off',
    )
    assert.deepEqual(
      reader.frames.map((f) => f.id),
      seqsFrom(1, BACKLOG + 70),
    )
    assert.deepEqual(
      reader.frames.map((f) => f.data.seq),
      seqsFrom(1, BACKLOG + 70),
    )
  })

  test('SSE: a slow reader, pausing for less than the stall timeout at a time, is not cut off', async () => {
    const id = await sessionWithBacklog(BACKLOG)
    const response = await openEvents(id)
    const reader = read(response)
    let pausedAt = 0
    response.on('data', () => {
      if (reader.frames.length - pausedAt < 3000) return
      pausedAt = reader.frames.length
      response.pause()
      setTimeout(() => response.resume(), STALL_TIMEOUT_MS / 2)
    })
    await waitUntil(() => reader.frames.length >= BACKLOG || reader.ended, 60_000, 'the backlog')
    response.destroy()
    assert.ok(pausedAt > 0, 'it paused')
    assert.deepEqual(
      reader.frames.map((f) => f.id),
      seqsFrom(1, BACKLOG),
    )
  })

  test('SSE: a reader that stops reading is cut off with slow_consumer, and can resume after it', async () => {
    const id = await sessionWithBacklog(BACKLOG)
    const response = await openEvents(id)
    response.pause()
    // Long enough for the stall to be noticed, and for the stream to be ended rather than left waiting.
    await new Promise((resolve) => setTimeout(resolve, 3 * STALL_TIMEOUT_MS))
    const reader = read(response)
    response.resume()
    await once(response, 'end')
    const last = reader.frames.at(-1)
    assert.equal(last?.event, 'error')
    assert.equal(last?.data.code, 'slow_consumer')
    const received = reader.frames.slice(0, -1).map((f) => f.id!)
    assert.ok(received.length > 0 && received.length < BACKLOG, `cut off mid-replay (${received.length})`)
    assert.deepEqual(received, seqsFrom(1, received.length))

    // Reconnecting with the last id it received gets the rest, exactly.
    const rest = await new Promise<IncomingMessage>((opened, failed) =>
      request(
        `${g.url}/api/sessions/${id}/events`,
        { headers: { 'last-event-id': String(received.length) } },
        opened,
      )
        .on('error', failed)
        .end(),
    )
    const restReader = read(rest)
    await waitUntil(
      () => restReader.frames.length >= BACKLOG - received.length || restReader.ended,
      60_000,
      'the rest',
    )
    rest.destroy()
    assert.deepEqual(
      restReader.frames.map((f) => f.id),
      seqsFrom(received.length + 1, BACKLOG),
    )
  })

  function openSocket(id: string): { socket: WebSocket; seqs: number[] } {
    const socket = new WebSocket(`${g.url.replace('http', 'ws')}/api/sessions/${id}/stream?after=0`)
    const seqs: number[] = []
    socket.on('message', (data) => seqs.push((JSON.parse(data.toString()) as { seq: number }).seq))
    return { socket, seqs }
  }

  test('WebSocket: a reader that keeps up gets the whole backlog once and in order, then live events', async () => {
    const id = await sessionWithBacklog(BACKLOG)
    const { socket, seqs } = openSocket(id)
    let closed: number | undefined
    socket.on('close', (code) => {
      closed = code
    })
    await waitUntil(() => seqs.length >= 1000 || closed !== undefined, 20_000, 'the replay to start')
    publish(id, 50)
    await waitUntil(() => seqs.length >= BACKLOG + 50 || closed !== undefined, 60_000, 'the backlog')
    publish(id, 20)
    await waitUntil(() => seqs.length >= BACKLOG + 70 || closed !== undefined, 10_000, 'the live events')
    assert.equal(closed, undefined, 'not closed')
    socket.close()
    assert.deepEqual(seqs, seqsFrom(1, BACKLOG + 70))
  })

  test('WebSocket: a reader that stops reading is closed with 1008 slow_consumer', async () => {
    const id = await sessionWithBacklog(BACKLOG)
    const { socket, seqs } = openSocket(id)
    await once(socket, 'open')
    socket.pause()
    await new Promise((resolve) => setTimeout(resolve, 3 * STALL_TIMEOUT_MS))
    const closed = once(socket, 'close') as Promise<[number, Buffer]>
    socket.resume()
    const [code, reason] = await closed
    assert.equal(code, 1008)
    assert.match(reason.toString(), /^slow_consumer/)
    assert.ok(seqs.length > 0 && seqs.length < BACKLOG, `cut off mid-replay (${seqs.length})`)
    assert.deepEqual(seqs, seqsFrom(1, seqs.length))
  })
})
