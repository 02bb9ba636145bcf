/**
 * `/model <name>` run through the commands route, against the real CLI and the scripted model: Claude Code
 * switches its live process, and the session keeps the model, so the process that resumes it after
 * hibernation asks the model API for the same one.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { withGateway } from '../support/harness.js'
import { nativeClient } from '../support/native-client.js'
import { text } from '../support/scripted-anthropic.js'
import { waitUntil } from '../support/wait.js'

/** Short, so that the session hibernates soon after each turn. */
const IDLE_TIMEOUT_MS = 1_500

describe('native API: /model', () => {
  const g = withGateway({ pool: { warmSpares: 0, idleTimeoutMs: IDLE_TIMEOUT_MS } })

  const { call } = nativeClient(() => g.gateway)

  test('the model /model chose outlives the process: a resumed session asks for it', async () => {
    const created = await call('POST', '/api/sessions', {})
    assert.equal(created.status, 201, JSON.stringify(created.body))
    const id = created.body.id as string
    assert.equal(created.body.model, null)

    const switched = await call('POST', `/api/sessions/${id}/commands/model`, { args: 'sonnet' })
    assert.equal(switched.status, 200, JSON.stringify(switched.body))
    assert.match(String(switched.body.output), /Set model to/)
    // Stored at once, and the live process was kept: it already runs with the new model.
    const session = (await call('GET', `/api/sessions/${id}`)).body
    assert.equal(session.model, 'sonnet')
    assert.notEqual(session.runner, null, 'the process was not restarted')
    await g.gateway.context.bus.flush()
    const events = await g.gateway.context.bus.replay(id, 0, 1_000)
    const ready = events.find((event) => event.type === 'session.ready')
    const defaultModel = ready?.type === 'session.ready' ? ready.model : ''
    assert.doesNotMatch(defaultModel, /sonnet/, 'the CLI started with another model')
    assert.deepEqual(
      events.filter((event) => event.type === 'model.changed').map((event) => ({ ...event, seq: 0, ts: 0 })),
      [
        {
          type: 'model.changed',
          turnId: switched.body.turn_id,
          model: 'sonnet',
          seq: 0,
          ts: 0,
          sessionId: id,
        },
      ],
    )

    await waitUntil(
      async () => (await g.gateway.context.engine.getSession(id))?.state === 'hibernated',
      IDLE_TIMEOUT_MS + 10_000,
      'hibernation',
    )
    g.home.model.script(text('Hello from the resumed process.'))
    const turn = await call('POST', `/api/sessions/${id}/messages`, { content: 'Which model are you?' })
    assert.equal(turn.status, 200, JSON.stringify(turn.body))
    assert.equal(turn.body.result, 'Hello from the resumed process.')
    assert.match(String(g.home.model.turns.at(-1)!.body.model), /sonnet/)
  })

  test('/model default goes back to the CLI default; /model alone changes nothing', async () => {
    const created = await call('POST', '/api/sessions', { model: 'haiku' })
    const id = created.body.id as string
    const shown = await call('POST', `/api/sessions/${id}/commands/model`, {})
    assert.equal(shown.status, 200, JSON.stringify(shown.body))
    assert.equal((await call('GET', `/api/sessions/${id}`)).body.model, 'haiku')
    const reset = await call('POST', `/api/sessions/${id}/commands/model`, { args: 'default' })
    assert.equal(reset.status, 200, JSON.stringify(reset.body))
    assert.equal((await call('GET', `/api/sessions/${id}`)).body.model, null)
  })
})
