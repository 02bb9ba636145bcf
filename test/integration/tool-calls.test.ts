/**
 * Claude-driven tool calls through the native API, against the real CLI and the scripted model: the tool
 * call list (Claude's calls, a subagent's, the direct ones; every status), the session's tool permissions
 * (rules and mode, applied from the next turn), and permission requests answered over REST.
 */
import assert from 'node:assert/strict'
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import type { EventOf } from '../../src/events/types.js'
import type { Gateway } from '../../src/gateway.js'
import { type TestHome, testConfig, testGateway, testHome } from '../support/harness.js'
import { expectError, type Json, nativeClient } from '../support/native-client.js'
import { postChatCompletion } from '../support/openai.js'
import { mainAndSubagentReplies, type ScriptedReply, text, toolCall } from '../support/scripted-anthropic.js'
import { waitUntil } from '../support/wait.js'
import { WEATHER_FUNCTION } from '../support/weather-function.js'

const PERMISSION_TIMEOUT_MS = 3_000

describe('native API: tool calls and permissions', () => {
  let home: TestHome
  let gateway: Gateway
  before(async () => {
    home = await testHome()
    // A project agent for the main thread: Claude Code loads project agents with the `project` source.
    mkdirSync(join(home.workspace, '.claude', 'agents'), { recursive: true })
    writeFileSync(
      join(home.workspace, '.claude', 'agents', 'reviewer.md'),
      '---\nname: reviewer\ndescription: Reviews changes\n---\nYou review changes.\n',
    )
    gateway = await testGateway(
      home,
      testConfig(home, {
        pool: { warmSpares: 0, permissionTimeoutMs: PERMISSION_TIMEOUT_MS },
        native: { workspaceRoots: [home.root] },
        claude: { settingSources: ['project'] },
        openai: { toolCallTimeoutMs: 1_000 },
      }),
    )
  })
  after(async () => {
    await gateway?.close()
    await home?.close()
  })

  const { call } = nativeClient(() => gateway)
  const newSession = async (options: Json) => {
    const created = await call('POST', '/api/sessions', options)
    assert.equal(created.status, 201, JSON.stringify(created.body))
    return created.body.id as string
  }
  const send = async (id: string, content: string) => {
    const turn = await call('POST', `/api/sessions/${id}/messages`, { content })
    assert.equal(turn.status, 200, JSON.stringify(turn.body))
    return turn.body
  }
  const toolCalls = async (id: string, query = '') => {
    const page = await call('GET', `/api/sessions/${id}/tool-calls${query}`)
    assert.equal(page.status, 200, JSON.stringify(page.body))
    return page.body as { items: Json[]; total: number; limit: number; offset: number }
  }
  /** The tool_result the model was given for a call, as text. */
  const resultSentToModel = (toolUseId: string) => {
    for (const request of home.model.turns) {
      for (const message of request.body.messages ?? []) {
        if (typeof message.content === 'string') continue
        const block = message.content.find((b) => b.type === 'tool_result' && b.tool_use_id === toolUseId)
        if (block) return JSON.stringify(block.content)
      }
    }
    return undefined
  }

  /** Every event of a session so far, oldest first. */
  const eventsOf = async (id: string) => {
    await gateway.context.bus.flush()
    return await gateway.context.bus.replay(id, 0, 10_000)
  }
  const usagesOf = async (id: string) =>
    (await eventsOf(id)).filter((event): event is EventOf<'usage'> => event.type === 'usage')

  /** The first pending permission request other than `except`, once there is one. */
  const waitingOne = (id: string, except?: string) =>
    waitUntil(async () => {
      const pending = await call('GET', `/api/sessions/${id}/permissions`)
      assert.equal(pending.status, 200)
      return (pending.body.items as Json[]).find((item) => item.request_id !== except)
    })

  test("a turn's calls: inputs, results, status, timing; a failed call; a direct call; filters and pages", async () => {
    const id = await newSession({ permission_mode: 'bypassPermissions' })
    const file = join(home.workspace, 'listed.txt')
    home.model.script(
      toolCall('Bash', { command: 'echo from-bash' }),
      toolCall('Write', { file_path: file, content: 'listed\n' }),
      toolCall('Bash', { command: 'echo oops >&2; exit 3' }),
      text('All done.'),
    )
    const turn = await send(id, 'Run the tools')
    assert.equal(turn.status, 'success')
    assert.equal(readFileSync(file, 'utf8'), 'listed\n')
    const direct = await call('POST', `/api/sessions/${id}/tools/read`, { file_path: 'listed.txt' })
    assert.equal(direct.status, 200)

    const page = await toolCalls(id)
    assert.equal(page.total, 4)
    assert.deepEqual(
      page.items.map((c) => [c.name, c.status, c.caller]),
      [
        ['Bash', 'succeeded', 'main'],
        ['Write', 'succeeded', 'main'],
        ['Bash', 'failed', 'main'],
        ['read', 'succeeded', 'direct'],
      ],
    )
    const [bash, write, failed, read] = page.items as [Json, Json, Json, Json]
    assert.deepEqual(bash.input, { command: 'echo from-bash' })
    assert.match(JSON.stringify((bash.result as Json).content), /from-bash/)
    assert.equal((bash.result as Json).is_error, false)
    assert.deepEqual(write.input, { file_path: file, content: 'listed\n' })
    assert.equal(((write.result as Json).structured as Json).type, 'create')
    assert.equal((failed.result as Json).is_error, true)
    assert.match(JSON.stringify((failed.result as Json).content), /Exit code 3/)
    for (const claudeCall of [bash, write, failed]) {
      assert.equal(claudeCall.turn_id, turn.turn_id)
      assert.equal(claudeCall.agent, null)
      assert.equal(claudeCall.parent_tool_use_id, null)
      assert.equal(claudeCall.permission, null)
      assert.match(claudeCall.id as string, /^toolu_/)
    }
    assert.match(read.turn_id as string, /^direct-/)
    assert.deepEqual(read.input, { file_path: 'listed.txt' })
    assert.equal(((read.result as Json).structured as Json).content, '     1\tlisted')
    for (const item of page.items) {
      assert.equal(typeof item.duration_ms, 'number')
      assert.ok((item.duration_ms as number) >= 0)
      const started = Date.parse(item.started_at as string)
      const finished = Date.parse(item.finished_at as string)
      assert.ok(started <= finished, JSON.stringify(item))
    }
    assert.deepEqual(
      page.items.map((c) => c.seq),
      [...page.items.map((c) => c.seq as number)].sort((a, b) => a - b),
    )

    assert.deepEqual(
      (await toolCalls(id, '?name=Bash')).items.map((c) => c.id),
      [bash.id, failed.id],
    )
    assert.deepEqual(
      (await toolCalls(id, '?status=failed')).items.map((c) => c.id),
      [failed.id],
    )
    assert.equal((await toolCalls(id, `?turn_id=${turn.turn_id}`)).total, 3)
    const newest = await toolCalls(id, '?order=desc&limit=2&offset=1')
    assert.equal(newest.total, 4)
    assert.deepEqual(
      newest.items.map((c) => c.id),
      [failed.id, write.id],
    )
    expectError(await call('GET', `/api/sessions/${id}/tool-calls?status=done`), 400, 'validation_error')
    expectError(await call('GET', `/api/sessions/${id}/tool-calls?limit=0`), 400, 'validation_error')
    expectError(await call('GET', `/api/sessions/${id}/tool-calls?x=1`), 400, 'validation_error')
    expectError(await call('GET', '/api/sessions/no-such-session/tool-calls'), 404, 'not_found')
  })

  test("a subagent's calls are attributed to it; the main thread's to the session's agent", async () => {
    const id = await newSession({ permission_mode: 'bypassPermissions', agent: 'reviewer' })
    const file = join(home.workspace, 'from-subagent.txt')
    const main: ScriptedReply[] = [
      toolCall('Task', {
        description: 'Write a file',
        prompt: 'Write from-subagent.txt',
        subagent_type: 'general-purpose',
        run_in_background: false,
      }),
      text('The subagent wrote it.'),
    ]
    const subagent: ScriptedReply[] = [
      toolCall('Write', { file_path: file, content: 'sub\n' }),
      text('Wrote from-subagent.txt'),
    ]
    home.model.fallback = mainAndSubagentReplies(main, subagent)
    try {
      assert.equal((await send(id, 'Delegate the file')).status, 'success')
    } finally {
      home.model.fallback = () => text('ok')
    }
    assert.equal(readFileSync(file, 'utf8'), 'sub\n')
    const { items } = await toolCalls(id)
    const task = items.find((c) => c.name === 'Task')!
    const write = items.find((c) => c.name === 'Write')!
    assert.deepEqual([task.caller, task.agent, task.status], ['main', 'reviewer', 'succeeded'])
    assert.deepEqual(
      [write.caller, write.agent, write.status, write.parent_tool_use_id],
      ['subagent', 'general-purpose', 'succeeded', task.id],
    )
    // The filter on the subagent's tool still knows who called it.
    const [filtered] = (await toolCalls(id, '?name=Write')).items
    assert.equal(filtered?.agent, 'general-purpose')
  })

  test('tool permissions: read, validated, and applied from the next turn (rules and mode)', async () => {
    const id = await newSession({ permission_mode: 'default' })
    const rules = await call('GET', `/api/sessions/${id}/tool-permissions`)
    assert.deepEqual(rules.body, {
      permission_mode: 'default',
      allowed_tools: [],
      disallowed_tools: [],
      ask_permissions: false,
    })
    const path = `/api/sessions/${id}/tool-permissions`
    expectError(
      await call('PUT', path, { disallowed_tools: ['Bash(rm:*)', 'Bash(rm'] }),
      400,
      'validation_error',
      'body.disallowed_tools[1]',
    )
    expectError(await call('PUT', path, { allowed_tools: ['two words'] }), 400, 'validation_error')
    expectError(await call('PUT', path, { permission_mode: 'yolo' }), 400, 'validation_error')
    expectError(await call('PUT', path, { allow: ['Bash'] }), 400, 'validation_error', 'body.allow')
    expectError(await call('PUT', path, {}), 400, 'validation_error')
    expectError(
      await call('PUT', '/api/sessions/nope/tool-permissions', { ask_permissions: true }),
      404,
      'not_found',
    )

    // Before: Bash needs an approval, and this session takes none.
    home.model.script(toolCall('Bash', { command: 'echo before > before.txt' }), text('Refused.'))
    await send(id, 'Write before.txt')
    assert.equal(existsSync(join(home.workspace, 'before.txt')), false)

    const changed = await call('PUT', path, {
      allowed_tools: ['Bash(mkdir:*)'],
      disallowed_tools: ['Bash(touch:*)'],
    })
    assert.equal(changed.status, 200, JSON.stringify(changed.body))
    assert.deepEqual(changed.body, {
      permission_mode: 'default',
      allowed_tools: ['Bash(mkdir:*)'],
      disallowed_tools: ['Bash(touch:*)'],
      ask_permissions: false,
    })
    assert.deepEqual((await call('GET', path)).body, changed.body)
    home.model.script(
      toolCall('Bash', { command: 'mkdir allowed' }),
      toolCall('Bash', { command: 'touch denied.txt' }),
      text('One of two.'),
    )
    const second = await send(id, 'Write both')
    assert.ok(statSync(join(home.workspace, 'allowed')).isDirectory())
    assert.equal(existsSync(join(home.workspace, 'denied.txt')), false)

    const { items } = await toolCalls(id)
    assert.deepEqual(
      items.map((c) => [c.input, c.status]),
      [
        [{ command: 'echo before > before.txt' }, 'denied'],
        [{ command: 'mkdir allowed' }, 'succeeded'],
        [{ command: 'touch denied.txt' }, 'denied'],
      ],
    )
    // The first was refused by the gateway (no interactive approvals), the last by Claude Code's deny rule.
    assert.deepEqual(
      [(items[0]!.permission as Json).behavior, (items[0]!.permission as Json).by],
      ['deny', 'rule'],
    )
    assert.equal(items[2]!.permission, null)
    assert.equal(items[2]!.turn_id, second.turn_id)

    // The permission mode: edits are accepted from the next turn on.
    home.model.script(
      toolCall('Write', { file_path: join(home.workspace, 'mode.txt'), content: 'a' }),
      text('No.'),
    )
    await send(id, 'Write mode.txt')
    assert.equal(existsSync(join(home.workspace, 'mode.txt')), false)
    const mode = await call('PUT', path, { permission_mode: 'acceptEdits' })
    assert.equal(mode.body.permission_mode, 'acceptEdits')
    assert.deepEqual(mode.body.allowed_tools, ['Bash(mkdir:*)'], 'the fields not given are kept')
    assert.equal((await call('GET', `/api/sessions/${id}`)).body.permission_mode, 'acceptEdits')
    home.model.script(
      toolCall('Write', { file_path: join(home.workspace, 'mode.txt'), content: 'b' }),
      text('Yes.'),
    )
    await send(id, 'Write mode.txt again')
    assert.equal(readFileSync(join(home.workspace, 'mode.txt'), 'utf8'), 'b')
    assert.deepEqual(
      (await toolCalls(id, '?name=Write')).items.map((c) => c.status),
      ['denied', 'succeeded'],
    )
  })

  test('permission requests answered over REST: allow with an edited input, deny with a message', async () => {
    const id = await newSession({ permission_mode: 'default', ask_permissions: true })
    const refused = join(home.workspace, 'refused.txt')
    home.model.script(
      toolCall('Bash', { command: 'echo original > edited.txt' }),
      toolCall('Write', { file_path: refused, content: 'no\n' }),
      text('Done.'),
    )
    const turn = call('POST', `/api/sessions/${id}/messages`, { content: 'Two changes' })
    const first = (await waitingOne(id)) as Json
    assert.equal(first.tool_name, 'Bash')
    assert.deepEqual(first.input, { command: 'echo original > edited.txt' })
    assert.match(first.tool_use_id as string, /^toolu_/)
    assert.equal(
      Date.parse(first.expires_at as string) - Date.parse(first.requested_at as string),
      PERMISSION_TIMEOUT_MS,
    )
    const answers = `/api/sessions/${id}/permissions`
    expectError(await call('POST', `${answers}/no-such-request`, { behavior: 'allow' }), 404, 'not_found')
    expectError(
      await call('POST', `${answers}/${first.request_id}`, { behavior: 'allow', message: 'x' }),
      400,
      'validation_error',
      'body.message',
    )
    expectError(
      await call('POST', `${answers}/${first.request_id}`, { behavior: 'maybe' }),
      400,
      'validation_error',
      'body.behavior',
    )
    const allowed = await call('POST', `${answers}/${first.request_id}`, {
      behavior: 'allow',
      updated_input: { command: 'echo edited > edited.txt' },
    })
    assert.equal(allowed.status, 200, JSON.stringify(allowed.body))
    assert.deepEqual(allowed.body, {
      request_id: first.request_id,
      tool_use_id: first.tool_use_id,
      tool_name: 'Bash',
      behavior: 'allow',
    })
    expectError(await call('POST', `${answers}/${first.request_id}`, { behavior: 'deny' }), 404, 'not_found')

    const second = (await waitingOne(id, first.request_id as string)) as Json
    assert.equal(second.tool_name, 'Write')
    const denied = await call('POST', `${answers}/${second.request_id}`, {
      behavior: 'deny',
      message: 'Not that file, please',
    })
    assert.equal(denied.status, 200)
    assert.equal((await turn).body.status, 'success')

    assert.equal(readFileSync(join(home.workspace, 'edited.txt'), 'utf8'), 'edited\n')
    assert.equal(existsSync(refused), false)
    assert.match(resultSentToModel(second.tool_use_id as string) ?? '', /Not that file, please/)
    assert.deepEqual((await call('GET', answers)).body, { items: [] })

    const { items } = await toolCalls(id)
    assert.deepEqual(
      items.map((c) => [c.name, c.status, (c.permission as Json).behavior, (c.permission as Json).by]),
      [
        ['Bash', 'succeeded', 'allow', 'client'],
        ['Write', 'denied', 'deny', 'client'],
      ],
    )
    assert.equal((items[1]!.permission as Json).message, 'Not that file, please')
    // The list shows what ran, and what Claude asked for when a client edited it.
    assert.deepEqual(items[0]!.input, { command: 'echo edited > edited.txt' })
    assert.deepEqual(items[0]!.requested_input, { command: 'echo original > edited.txt' })
    assert.deepEqual(items[1]!.input, { file_path: refused, content: 'no\n' })
    assert.equal('requested_input' in items[1]!, false)
    const resolved = (await eventsOf(id)).filter((event) => event.type === 'permission.resolved')
    assert.deepEqual(
      resolved.map((event) => event.type === 'permission.resolved' && [event.behavior, event.updatedInput]),
      [
        ['allow', { command: 'echo edited > edited.txt' }],
        ['deny', undefined],
      ],
    )
  })

  test("a call a path-scoped deny rule refuses is denied too: Claude Code's decision, not its wording", async () => {
    const locked = join(home.workspace, 'locked.txt')
    writeFileSync(locked, 'original\n')
    const id = await newSession({ permission_mode: 'acceptEdits' })
    const rules = await call('PUT', `/api/sessions/${id}/tool-permissions`, {
      disallowed_tools: ['Edit(./locked.txt)'],
    })
    assert.equal(rules.status, 200, JSON.stringify(rules.body))
    home.model.script(
      toolCall('Read', { file_path: locked }),
      toolCall('Edit', { file_path: locked, old_string: 'original', new_string: 'changed' }),
      text('It is locked.'),
    )
    assert.equal((await send(id, 'Change locked.txt')).status, 'success')
    assert.equal(readFileSync(locked, 'utf8'), 'original\n')
    const { items } = await toolCalls(id)
    assert.deepEqual(
      items.map((c) => [c.name, c.status, c.permission]),
      [
        ['Read', 'succeeded', null],
        ['Edit', 'denied', null],
      ],
    )
    // This refusal does not read like Claude Code's other rule denials.
    assert.doesNotMatch(JSON.stringify((items[1]!.result as Json).content), /has been denied/)
  })

  test('a background subagent that finishes after its turn: its cost counts once, the turn once', async () => {
    const id = await newSession({ permission_mode: 'bypassPermissions' })
    const main: ScriptedReply[] = [
      toolCall('Task', {
        description: 'Count in the background',
        prompt: 'Count to three',
        subagent_type: 'general-purpose',
        run_in_background: true,
      }),
      text('Started it.'),
      text('The subagent counted to three.'),
    ]
    // Slow enough that the turn completes first.
    const subagent: ScriptedReply[] = [text('One, two, three.', { delayMs: 1_000 })]
    home.model.fallback = mainAndSubagentReplies(main, subagent)
    let turnId: string
    try {
      const turn = await send(id, 'Count in the background')
      assert.equal(turn.status, 'success')
      assert.equal(turn.result, 'Started it.')
      turnId = turn.turn_id as string
      // Claude Code answers the subagent's report by itself once it arrives: a second result.
      await waitUntil(async () => (await usagesOf(id)).length === 2)
    } finally {
      home.model.fallback = () => text('ok')
    }
    const events = (await eventsOf(id)).filter((event) => 'turnId' in event && event.turnId === turnId)
    const types = events.map((event) => event.type)
    assert.equal(types.filter((type) => type === 'turn.completed').length, 1, types.join(' '))
    const late = events.slice(types.indexOf('turn.completed') + 1)
    assert.ok(
      late.some(
        (event) =>
          event.type === 'message' &&
          JSON.stringify(event.content).includes('The subagent counted to three.'),
      ),
      'the answer to the report follows the turn',
    )
    assert.equal(late.at(-1)?.type, 'usage')
    const [first, second] = (await usagesOf(id)) as [EventOf<'usage'>, EventOf<'usage'>]
    assert.equal(second.turnId, turnId)
    assert.ok(second.costUsd > 0, "the subagent's and the answer's model calls cost something")
    const session = (await call('GET', `/api/sessions/${id}`)).body
    assert.equal(session.turns, 1)
    assert.ok(Math.abs((session.cost_usd as number) - (first.costUsd + second.costUsd)) < 1e-12)
    assert.equal((session.usage as Json).input_tokens, first.usage.inputTokens + second.usage.inputTokens)
    assert.equal(session.state, 'idle')
  })

  test('a request nobody answers is denied when it times out', async () => {
    const id = await newSession({ permission_mode: 'default', ask_permissions: true })
    const file = join(home.workspace, 'unanswered.txt')
    home.model.script(toolCall('Write', { file_path: file, content: 'x' }), text('Nobody answered.'))
    const turn = call('POST', `/api/sessions/${id}/messages`, { content: 'Write it' })
    const pending = (await waitingOne(id)) as Json
    assert.equal((await turn).body.status, 'success')
    assert.equal(existsSync(file), false)
    assert.deepEqual((await call('GET', `/api/sessions/${id}/permissions`)).body, { items: [] })
    const [write] = (await toolCalls(id)).items as [Json]
    assert.equal(write.status, 'denied')
    assert.deepEqual(write.permission, {
      request_id: pending.request_id,
      behavior: 'deny',
      by: 'timeout',
      message: `No answer within ${PERMISSION_TIMEOUT_MS} ms`,
    })
    assert.match(resultSentToModel(write.id as string) ?? '', /No answer within/)
  })

  test('a call still running is listed as running; interrupted, as interrupted', async () => {
    const id = await newSession({ permission_mode: 'bypassPermissions' })
    home.model.script(toolCall('Bash', { command: 'sleep 10' }), text('never'))
    const turn = call('POST', `/api/sessions/${id}/messages`, { content: 'Sleep' })
    const running = await waitUntil(async () => (await toolCalls(id, '?status=running')).items[0])
    assert.equal(running.name, 'Bash')
    assert.equal(running.result, null)
    assert.equal(running.finished_at, null)
    assert.equal(running.duration_ms, null)
    assert.equal((await call('POST', `/api/sessions/${id}/interrupt`)).body.interrupted, true)
    assert.equal((await turn).body.status, 'interrupted')
    home.model.clearScript()
    const [interrupted] = (await toolCalls(id)).items as [Json]
    assert.equal(interrupted.status, 'interrupted')
    assert.equal(typeof interrupted.finished_at, 'string')
    assert.ok((interrupted.duration_ms as number) < 10_000)
  })

  test('an OpenAI client function the client never answers is listed as timed out', async () => {
    home.model.script(toolCall('mcp__client__get_weather', { city: 'Oslo' }), text('unused'))
    const response = await postChatCompletion(gateway, {
      model: 'claude-code',
      messages: [{ role: 'user', content: 'Oslo?' }],
      tools: [WEATHER_FUNCTION],
    })
    assert.equal(response.status, 200)
    const answer = (await response.json()) as { choices: { finish_reason: string }[] }
    assert.equal(answer.choices[0]!.finish_reason, 'tool_calls')
    const id = response.headers.get('x-session-id')!
    const [timedOut] = await waitUntil(async () => {
      const { items } = await toolCalls(id)
      return items[0]?.status === 'timeout' ? items : undefined
    })
    home.model.clearScript()
    assert.equal(timedOut!.name, 'mcp__client__get_weather')
    assert.deepEqual(timedOut!.input, { city: 'Oslo' })
  })
})
