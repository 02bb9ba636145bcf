/** Session WebSockets with the `ws` client: messages, every event, permission answers, tool-only stream. */
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import WebSocket from 'ws'
import { withGateway } from '../support/harness.js'
import { text, toolCall } from '../support/scripted-anthropic.js'
import { waitUntil } from '../support/wait.js'

interface Frame {
  type: string
  [key: string]: unknown
}

describe('session WebSockets', () => {
  const g = withGateway({ pool: { warmSpares: 0 } })

  const createSession = async (body: object) => {
    const response = await fetch(`${g.url}/api/sessions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    })
    return ((await response.json()) as { id: string }).id
  }

  async function open(path: string): Promise<{ socket: WebSocket; frames: Frame[] }> {
    const socket = new WebSocket(`${g.url.replace('http', 'ws')}${path}`)
    const frames: Frame[] = []
    socket.on('message', (data) => frames.push(JSON.parse(data.toString()) as Frame))
    await once(socket, 'open')
    return { socket, frames }
  }

  test('send a message and receive every event of its turn; bad frames get an error', async () => {
    const id = await createSession({})
    const { socket, frames } = await open(`/api/sessions/${id}/stream`)
    g.home.model.script(text('over the socket', { chunkSize: 4 }))
    socket.send(JSON.stringify({ type: 'message', content: 'hi', request_id: 'r1' }))
    await waitUntil(() => frames.some((f) => f.type === 'turn.completed'), 20_000, 'turn.completed')
    const ack = frames.find((f) => f.type === 'ack')
    assert.equal(ack?.request_id, 'r1')
    const turnFrames = frames.filter((f) => f.turnId === ack?.turn_id)
    assert.equal(turnFrames[0]!.type, 'turn.started')
    assert.equal(
      turnFrames
        .filter((f) => f.type === 'text.delta')
        .map((f) => f.text)
        .join(''),
      'over the socket',
    )
    const seqs = frames.filter((f) => typeof f.seq === 'number').map((f) => f.seq as number)
    assert.deepEqual(
      seqs,
      [...seqs].sort((a, b) => a - b),
      'in order',
    )

    socket.send('not json')
    await waitUntil(() => frames.some((f) => f.type === 'error'), 5_000, 'an error frame')
    assert.equal(frames.find((f) => f.type === 'error')?.code, 'validation_error')
    socket.close()
  })

  test('a message whose content Claude Code could not use is refused, naming the field; no turn starts', async () => {
    const id = await createSession({})
    const { socket, frames } = await open(`/api/sessions/${id}/stream`)
    const answer = async (frame: object, requestId: string) => {
      socket.send(JSON.stringify({ ...frame, request_id: requestId }))
      return waitUntil(
        () => frames.find((f) => f.request_id === requestId),
        5_000,
        `the answer to ${requestId}`,
      )
    }
    const missing = await answer({ type: 'message', content: [{ type: 'text' }] }, 'm1')
    assert.equal(missing.type, 'error')
    assert.equal(missing.code, 'validation_error')
    assert.match(String(missing.message), /content\[0\]\.text/)
    const notText = await answer({ type: 'message', content: [{ type: 'text', text: 5 }] }, 'm2')
    assert.equal(notText.code, 'validation_error')
    assert.match(String(notText.message), /content\[0\]\.text must be string/)
    assert.equal(frames.filter((f) => f.type === 'turn.started').length, 0)

    g.home.model.script(text('fine'))
    socket.send(
      JSON.stringify({ type: 'message', content: [{ type: 'text', text: 'hi' }], request_id: 'm3' }),
    )
    await waitUntil(() => frames.some((f) => f.type === 'turn.completed'), 20_000, 'turn.completed')
    socket.close()
  })

  test('permission requests are answered over the socket; the tool stream shows tool calls only', async () => {
    const id = await createSession({ permission_mode: 'default', ask_permissions: true })
    const { socket, frames } = await open(`/api/sessions/${id}/stream`)
    const tools = await open(`/api/sessions/${id}/tools/stream`)
    const target = join(g.home.workspace, 'ws-approved.txt')
    g.home.model.script(toolCall('Write', { file_path: target, content: 'ok\n' }), text('Written.'))
    socket.send(JSON.stringify({ type: 'message', content: 'write it' }))
    const asked = await waitUntil(
      () => frames.find((f) => f.type === 'permission.requested'),
      20_000,
      'permission',
    )
    socket.send(
      JSON.stringify({ type: 'permission', permission_request_id: asked.requestId, behavior: 'allow' }),
    )
    await waitUntil(() => frames.some((f) => f.type === 'turn.completed'), 20_000, 'turn.completed')
    assert.ok(existsSync(target))
    await waitUntil(() => tools.frames.some((f) => f.type === 'tool.result'), 5_000, 'tool frames')
    assert.deepEqual(
      [...new Set(tools.frames.map((f) => f.type))],
      ['tool.call', 'permission.requested', 'permission.resolved', 'tool.result', 'file.changed'],
    )
    socket.close()
    tools.socket.close()
  })

  test('a reconnect with ?after= replays what it missed', async () => {
    const id = await createSession({})
    g.home.model.script(text('missed while away'))
    await fetch(`${g.url}/api/sessions/${id}/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ content: 'hello' }),
    })
    const { socket, frames } = await open(`/api/sessions/${id}/stream?after=2`)
    const expected = (await g.gateway.context.bus.replay(id, 2)).map((e) => e.seq)
    await waitUntil(() => frames.length >= expected.length, 5_000, 'the replay')
    assert.deepEqual(
      frames.map((f) => f.seq),
      expected,
    )
    socket.close()
  })

  test('an unknown session closes the socket with 4404', async () => {
    const socket = new WebSocket(`${g.url.replace('http', 'ws')}/api/sessions/nope/stream`)
    const [code] = (await once(socket, 'close')) as [number]
    assert.equal(code, 4404)
  })
})
