/**
 * A session's life beyond its turns, against the real CLI and the scripted model: resume (warm) now, pause
 * and resume (across a gateway restart too), fork (whole, after a turn, at a message) with each branch going
 * on alone, and the import of a conversation the CLI had by itself. What the model received shows which
 * conversation each turn continued.
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { after, before, describe, test } from 'node:test'
import { promisify } from 'node:util'
import { detectClaudeCli } from '../../src/engine/claude-cli.js'
import type { Gateway } from '../../src/gateway.js'
import { type TestHome, testConfig, testGateway, testHome, withGateway } from '../support/harness.js'
import { expectError, type Json, nativeClient } from '../support/native-client.js'
import { conversationTexts, type ScriptedAnthropic, text } from '../support/scripted-anthropic.js'
import { isGone, waitUntil } from '../support/wait.js'

/** JSON calls to one gateway, which a test may replace (a restart). */
function client(current: () => Gateway) {
  const { call } = nativeClient(current)
  /** Create a session and run its turns (each answered by the scripted reply given with it). */
  const sessionWith = async (model: ScriptedAnthropic, options: Json, turns: [string, string][]) => {
    const created = await call('POST', '/api/sessions', options)
    assert.equal(created.status, 201, JSON.stringify(created.body))
    const id = created.body.id as string
    const turnIds: string[] = []
    for (const [content, reply] of turns) turnIds.push(await say(model, id, content, reply))
    return { id, turnIds }
  }
  /** One turn of a session, answered `reply`; returns its turn id. */
  const say = async (model: ScriptedAnthropic, id: string, content: string, reply: string) => {
    model.script(text(reply))
    const answer = await call('POST', `/api/sessions/${id}/messages`, { content })
    assert.equal(answer.status, 200, JSON.stringify(answer.body))
    assert.equal(answer.body.status, 'success', JSON.stringify(answer.body))
    assert.equal(answer.body.text, reply)
    return answer.body.turn_id as string
  }
  return { call, sessionWith, say }
}

/** The conversation texts the model received in its last request. */
const lastConversation = (model: ScriptedAnthropic) =>
  conversationTexts(model.turns.at(-1)!.body).map((t) => t.text)

describe('lifecycle: resume, pause, fork and import', () => {
  const g = withGateway({ pool: { warmSpares: 0 } })
  const { call, sessionWith, say } = client(() => g.gateway)

  test('resume warms a hibernated session: a live process serves its next turn, with the conversation', async () => {
    const { id } = await sessionWith(g.home.model, {}, [['My favourite colour is teal.', 'Noted: teal.']])
    // A settings change lets the process go: the session hibernates.
    const changed = await call('PUT', `/api/sessions/${id}/context`, { append_system_prompt: 'Be brief.' })
    assert.equal(changed.body.state, 'hibernated')
    assert.equal(changed.body.runner, null)

    const resumed = await call('POST', `/api/sessions/${id}/resume`)
    assert.equal(resumed.status, 200, JSON.stringify(resumed.body))
    assert.equal(resumed.body.state, 'idle')
    const runner = resumed.body.runner as { pid: number; busy: boolean }
    assert.equal(typeof runner.pid, 'number')
    assert.equal(runner.busy, false)
    assert.equal(isGone(runner.pid), false)
    // Already live: nothing more starts.
    const again = await call('POST', `/api/sessions/${id}/resume`)
    assert.deepEqual(again.body.runner, runner)

    const requestsBefore = g.home.model.turns.length
    await say(g.home.model, id, 'What is my favourite colour?', 'Teal.')
    assert.equal(g.home.model.turns.length, requestsBefore + 1)
    assert.deepEqual(lastConversation(g.home.model), [
      'My favourite colour is teal.',
      'Noted: teal.',
      'What is my favourite colour?',
    ])
    const after = await call('GET', `/api/sessions/${id}`)
    assert.equal((after.body.runner as { pid: number }).pid, runner.pid, 'the warmed process served the turn')

    expectError(await call('POST', '/api/sessions/no-such-session/resume'), 404, 'not_found')
    assert.equal((await call('DELETE', `/api/sessions/${id}`)).status, 204)
    expectError(await call('POST', `/api/sessions/${id}/resume`), 409, 'session_closed')
    expectError(await call('POST', `/api/sessions/${id}/pause`), 409, 'session_closed')
  })

  test('pause stops the process and refuses messages; resume takes them again, with the conversation', async () => {
    const { id } = await sessionWith(g.home.model, {}, [['The code word is heron.', 'Heron, noted.']])
    const pid = ((await call('GET', `/api/sessions/${id}`)).body.runner as { pid: number }).pid

    const paused = await call('POST', `/api/sessions/${id}/pause`)
    assert.equal(paused.status, 200, JSON.stringify(paused.body))
    assert.equal(paused.body.state, 'paused')
    assert.equal(paused.body.runner, null)
    await waitUntil(() => isGone(pid), 10_000, 'the paused session to have no process')

    const requestsBefore = g.home.model.turns.length
    const refused = expectError(
      await call('POST', `/api/sessions/${id}/messages`, { content: 'Still there?' }),
      409,
      'session_paused',
    )
    assert.match(refused.message as string, /paused/)
    assert.equal(g.home.model.turns.length, requestsBefore, 'the model was not called')
    // Pausing a paused session is harmless; it is listed as paused.
    assert.equal((await call('POST', `/api/sessions/${id}/pause`)).body.state, 'paused')
    const listed = await call('GET', '/api/sessions?state=paused')
    assert.ok((listed.body.items as Json[]).some((item) => item.id === id))

    const resumed = await call('POST', `/api/sessions/${id}/resume`)
    assert.equal(resumed.body.state, 'idle')
    assert.notEqual(resumed.body.runner, null)
    await say(g.home.model, id, 'What is the code word?', 'Heron.')
    assert.deepEqual(lastConversation(g.home.model), [
      'The code word is heron.',
      'Heron, noted.',
      'What is the code word?',
    ])

    assert.deepEqual(
      (await stateChanges(id)).filter((s) => s.state === 'paused' || s.previous === 'paused'),
      [
        { state: 'paused', previous: 'idle' },
        { state: 'hibernated', previous: 'paused' },
      ],
    )
  })

  test('pause and whole forks wait for no turn: refused while one runs; a fork at a message is not', async () => {
    const { id, turnIds } = await sessionWith(g.home.model, {}, [['Count to one.', 'One.']])
    g.home.model.script(text('Two.', { delayMs: 1500 }))
    const running = call('POST', `/api/sessions/${id}/messages`, { content: 'Count to two.' })
    await waitUntil(
      async () => (await g.gateway.context.engine.getSession(id))?.state === 'running',
      10_000,
      'the turn',
    )
    expectError(await call('POST', `/api/sessions/${id}/pause`), 409, 'session_busy')
    expectError(await call('POST', `/api/sessions/${id}/fork`, {}), 409, 'session_busy')
    const atFirst = await call('POST', `/api/sessions/${id}/fork`, { at_message: turnIds[0] })
    assert.equal(atFirst.status, 201, JSON.stringify(atFirst.body))
    assert.equal((await running).body.status, 'success')
    assert.equal((await call('POST', `/api/sessions/${id}/pause`)).body.state, 'paused')
  })

  test('fork: whole, after a turn or at a message; each branch goes on without the others', async () => {
    const settings = { title: 'Facts', permission_mode: 'acceptEdits', append_system_prompt: 'Be brief.' }
    const { id, turnIds } = await sessionWith(g.home.model, settings, [
      ['First fact: apples.', 'Noted apples.'],
      ['Second fact: bananas.', 'Noted bananas.'],
    ])
    const source = (await call('GET', `/api/sessions/${id}`)).body
    const history = (await call('GET', `/api/sessions/${id}/history`)).body.items as Json[]
    const firstAnswer = history.find((item) => item.type === 'assistant' && item.turn_id === turnIds[0])!

    const fork = async (body?: Json) => {
      const answer = await call('POST', `/api/sessions/${id}/fork`, body)
      assert.equal(answer.status, 201, JSON.stringify(answer.body))
      return answer.body
    }
    const whole = await fork()
    const afterTurn = await fork({ at_message: turnIds[0], title: 'Apples only' })
    const atMessage = await fork({ at_message: firstAnswer.message_id as string })

    assert.equal(whole.title, 'Facts (fork)')
    assert.equal(afterTurn.title, 'Apples only')
    for (const branch of [whole, afterTurn, atMessage]) {
      assert.equal(branch.state, 'new')
      assert.equal(branch.workspace, source.workspace)
      assert.equal(branch.permission_mode, 'acceptEdits')
      assert.deepEqual(branch.settings, source.settings)
      assert.equal(branch.turns, 0)
    }
    const claudeIds = [source, whole, afterTurn, atMessage].map((s) => s.claude_session_id)
    assert.equal(new Set(claudeIds).size, 4, 'each branch has its own Claude session')

    await say(g.home.model, afterTurn.id as string, 'Which facts?', 'Apples.')
    assert.deepEqual(lastConversation(g.home.model), ['First fact: apples.', 'Noted apples.', 'Which facts?'])
    await say(g.home.model, atMessage.id as string, 'Which facts, again?', 'Apples.')
    assert.deepEqual(lastConversation(g.home.model), [
      'First fact: apples.',
      'Noted apples.',
      'Which facts, again?',
    ])
    await say(g.home.model, whole.id as string, 'Third fact: cherries.', 'Noted cherries.')
    assert.deepEqual(lastConversation(g.home.model), [
      'First fact: apples.',
      'Noted apples.',
      'Second fact: bananas.',
      'Noted bananas.',
      'Third fact: cherries.',
    ])
    // The original knows nothing of its branches' turns.
    await say(g.home.model, id, 'Which facts now?', 'Apples and bananas.')
    assert.deepEqual(lastConversation(g.home.model), [
      'First fact: apples.',
      'Noted apples.',
      'Second fact: bananas.',
      'Noted bananas.',
      'Which facts now?',
    ])
    // Nor does a branch know of the original's later turns.
    await say(g.home.model, whole.id as string, 'And now?', 'Three fruits.')
    assert.ok(!lastConversation(g.home.model).includes('Which facts now?'))

    expectError(await call('POST', `/api/sessions/${id}/fork`, { at_message: 'msg_nope' }), 404, 'not_found')
    expectError(await call('POST', '/api/sessions/no-such-session/fork', {}), 404, 'not_found')
    expectError(
      await call('POST', `/api/sessions/${id}/fork`, { at: 'x' }),
      400,
      'validation_error',
      'body.at',
    )
  })

  test("import: the CLI's own session is listed, imported, and its first message continues it", async () => {
    const sessionId = await runCliDirectly(g.home, 'My name is Ada.', 'Hello Ada.')

    const listed = await call(
      'GET',
      `/api/claude-sessions?workspace=${encodeURIComponent(g.home.workspace)}&limit=100`,
    )
    assert.equal(listed.status, 200, JSON.stringify(listed.body))
    const item = (listed.body.items as Json[]).find((entry) => entry.claude_session_id === sessionId)
    assert.ok(item, JSON.stringify(listed.body))
    assert.equal(item.first_prompt, 'My name is Ada.')
    assert.match(item.last_modified as string, /^\d{4}-\d\d-\d\dT/)
    assert.equal(listed.body.has_more, false)

    const imported = await call('POST', '/api/sessions/import', {
      claude_session_id: sessionId,
      workspace: g.home.workspace,
    })
    assert.equal(imported.status, 201, JSON.stringify(imported.body))
    assert.equal(imported.body.claude_session_id, sessionId)
    assert.equal(imported.body.title, 'My name is Ada.')
    await say(g.home.model, imported.body.id as string, 'What is my name?', 'Ada.')
    assert.deepEqual(lastConversation(g.home.model), ['My name is Ada.', 'Hello Ada.', 'What is my name?'])

    const conflict = expectError(
      await call('POST', '/api/sessions/import', {
        claude_session_id: sessionId,
        workspace: g.home.workspace,
      }),
      409,
      'conflict',
    )
    assert.match(conflict.message as string, new RegExp(imported.body.id as string))

    expectError(
      await call('POST', '/api/sessions/import', {
        claude_session_id: '00000000-0000-4000-8000-000000000000',
        workspace: g.home.workspace,
      }),
      404,
      'not_found',
    )
    expectError(
      await call('POST', '/api/sessions/import', {
        claude_session_id: '../../etc',
        workspace: g.home.workspace,
      }),
      400,
      'validation_error',
      'body.claude_session_id',
    )
    expectError(
      await call('POST', '/api/sessions/import', { claude_session_id: sessionId, workspace: '/' }),
      400,
      'validation_error',
      'body.workspace',
    )
    expectError(
      await call('GET', '/api/claude-sessions?workspace=%2F'),
      400,
      'validation_error',
      'querystring.workspace',
    )
  })

  /** The session.state changes of a session, from its event log. */
  async function stateChanges(id: string) {
    return (await g.gateway.context.bus.replay(id)).flatMap((event) =>
      event.type === 'session.state' ? [{ state: event.state, previous: event.previous }] : [],
    )
  }
})

describe('lifecycle: a paused session across a gateway restart', () => {
  let home: TestHome
  let gateway: Gateway
  const { call, sessionWith, say } = client(() => gateway)
  const start = () =>
    testGateway(home, testConfig(home, { pool: { warmSpares: 0 }, native: { workspaceRoots: [home.root] } }))

  before(async () => {
    home = await testHome()
    gateway = await start()
  })
  after(async () => {
    await gateway?.close()
    await home?.close()
  })

  test('stays paused after a restart, and resumes its conversation when asked', async () => {
    const { id } = await sessionWith(home.model, {}, [['Remember 42.', 'Remembered.']])
    assert.equal((await call('POST', `/api/sessions/${id}/pause`)).body.state, 'paused')

    await gateway.close()
    gateway = await start()
    const restored = await call('GET', `/api/sessions/${id}`)
    assert.equal(restored.body.state, 'paused')
    expectError(await call('POST', `/api/sessions/${id}/messages`, { content: 'Hi' }), 409, 'session_paused')

    assert.equal((await call('POST', `/api/sessions/${id}/resume`)).body.state, 'idle')
    await say(home.model, id, 'What did I ask you to remember?', '42.')
    assert.deepEqual(lastConversation(home.model), [
      'Remember 42.',
      'Remembered.',
      'What did I ask you to remember?',
    ])
  })
})

/** Run `claude -p` itself in the workspace (no gateway): a session the CLI created. Returns its id. */
async function runCliDirectly(home: TestHome, prompt: string, reply: string): Promise<string> {
  const cli = await detectClaudeCli(null, { PATH: '' })
  home.model.script(text(reply))
  const { stdout } = await promisify(execFile)(cli.path!, ['-p', prompt, '--output-format', 'json'], {
    cwd: home.workspace,
    env: home.env,
    timeout: 60_000,
  })
  const result = JSON.parse(stdout) as { session_id: string; result: string }
  assert.equal(result.result, reply)
  return result.session_id
}
