/**
 * The agents API against the real CLI and the scripted model: agent files of the user's and a project's
 * scope (create, list, read, change, delete, every error), and a session switching its main agent, which
 * Claude Code then runs with the agent's prompt as its system prompt while the conversation goes on.
 */
import assert from 'node:assert/strict'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { startGateway } from '../../src/gateway.js'
import { quietLog, testConfig, testHome, withGateway } from '../support/harness.js'
import { expectError, expectInvalid, type Json, nativeClient } from '../support/native-client.js'
import { text } from '../support/scripted-anthropic.js'

describe('native API: agents', () => {
  // Claude Code loads user and project agents only with those setting sources; the routes read the
  // CLAUDE_CONFIG_DIR the CLI gets (claude.env over the gateway's environment).
  const g = withGateway((home) => ({
    claude: { settingSources: ['user', 'project'], env: { CLAUDE_CONFIG_DIR: home.env.CLAUDE_CONFIG_DIR! } },
  }))
  const userDir = () => join(g.home.env.CLAUDE_CONFIG_DIR!, 'agents')
  const projectDir = () => join(g.home.workspace, '.claude', 'agents')

  const { call } = nativeClient(() => g.gateway)
  const ws = () => encodeURIComponent(g.home.workspace)
  const files = (list: Json) => (list.agents as Json[]).filter((agent) => agent.scope !== 'builtin')

  test('agent files of both scopes: create, list, read, change, delete', async () => {
    const pirate = {
      name: 'pirate',
      description: 'Talks like a pirate',
      prompt: 'You are a pirate.',
      tools: ['Read', 'Grep'],
      model: 'sonnet',
      scope: 'user',
    }
    const created = await call('POST', '/api/agents', pirate)
    assert.equal(created.status, 201)
    assert.equal(created.body.path, join(userDir(), 'pirate.md'))
    assert.equal(created.body.scope, 'user')
    assert.deepEqual(created.body.tools, ['Read', 'Grep'])
    const file = readFileSync(join(userDir(), 'pirate.md'), 'utf8')
    assert.match(
      file,
      /^---\nname: pirate\ndescription: Talks like a pirate\ntools: Read, Grep\nmodel: sonnet\n---\n/,
    )
    assert.ok(file.endsWith('\nYou are a pirate.\n'))
    expectError(await call('POST', '/api/agents', pirate), 409, 'already_exists', 'body.name')
    const replaced = await call('POST', '/api/agents', { ...pirate, prompt: 'Arr.', overwrite: true })
    assert.equal(replaced.status, 201)
    assert.equal(replaced.body.prompt, 'Arr.')

    const reviewer = {
      name: 'reviewer',
      description: 'Reviews diffs',
      prompt: 'Review.',
      max_turns: 3,
      permission_mode: 'plan',
      scope: 'project',
      workspace: g.home.workspace,
    }
    const project = await call('POST', '/api/agents', reviewer)
    assert.equal(project.status, 201)
    assert.equal(project.body.path, join(projectDir(), 'reviewer.md'))
    assert.equal(project.body.max_turns, 3)

    // Validation names the field.
    const { workspace: _, ...noWorkspace } = reviewer
    expectInvalid(await call('POST', '/api/agents', noWorkspace), 'body.workspace')
    expectInvalid(await call('POST', '/api/agents', { ...reviewer, workspace: '/etc' }), 'body.workspace')
    expectInvalid(await call('POST', '/api/agents', { ...pirate, name: 'Bad Name' }), 'body.name')
    const { description: __, ...noDescription } = pirate
    expectInvalid(await call('POST', '/api/agents', noDescription), 'body.description')
    expectInvalid(
      await call('POST', '/api/agents', { ...pirate, name: 'x', description: ' ' }),
      'body.description',
    )
    expectInvalid(await call('POST', '/api/agents', { ...pirate, tools: 'Read' }), 'body.tools')
    expectInvalid(await call('POST', '/api/agents', { ...pirate, colour: 'red' }), 'body.colour')
    expectInvalid(await call('POST', '/api/agents', { ...pirate, scope: 'global' }), 'body.scope')
    assert.ok(!existsSync(join(userDir(), 'x.md')))

    // A file that does not parse is listed with its error.
    writeFileSync(join(userDir(), 'broken.md'), '---\nname: [\n---\nnothing')
    const listed = await call('GET', `/api/agents?workspace=${ws()}`)
    assert.equal(listed.status, 200)
    assert.deepEqual(
      files(listed.body).map(({ name, scope, loaded, error }) => ({
        name,
        scope,
        loaded,
        broken: Boolean(error),
      })),
      [
        { name: 'broken', scope: 'user', loaded: false, broken: true },
        { name: 'pirate', scope: 'user', loaded: true, broken: false },
        { name: 'reviewer', scope: 'project', loaded: true, broken: false },
      ],
    )
    assert.deepEqual(
      files(listed.body).find((agent) => agent.name === 'pirate'),
      {
        name: 'pirate',
        description: 'Talks like a pirate',
        tools: ['Read', 'Grep'],
        model: 'sonnet',
        scope: 'user',
        path: join(userDir(), 'pirate.md'),
        loaded: true,
        overridden: false,
      },
    )
    const userOnly = await call('GET', '/api/agents')
    assert.deepEqual(
      files(userOnly.body).map((agent) => agent.scope),
      ['user', 'user'],
    )
    expectInvalid(await call('GET', '/api/agents?workspace=/etc'), 'querystring.workspace')

    // Reading one.
    const config = await call('GET', '/api/agents/pirate/config')
    assert.equal(config.status, 200)
    assert.equal(config.body.prompt, 'Arr.')
    assert.equal(config.body.model, 'sonnet')
    assert.equal(config.body.max_turns, null)
    assert.deepEqual(config.body.other_front_matter, {})
    const projectConfig = await call('GET', `/api/agents/reviewer/config?scope=project&workspace=${ws()}`)
    assert.equal(projectConfig.body.permission_mode, 'plan')
    assert.equal((await call('GET', `/api/agents/reviewer/config?workspace=${ws()}`)).body.scope, 'project')
    expectError(await call('GET', '/api/agents/reviewer/config'), 404, 'not_found')
    expectInvalid(await call('GET', '/api/agents/reviewer/config?scope=project'), 'querystring.workspace')
    expectInvalid(await call('GET', '/api/agents/pirate/config?scope=team'), 'querystring.scope')
    assert.match((await call('GET', '/api/agents/broken/config')).body.error as string, /Invalid YAML/)

    // Changing one: given fields merged, null removes.
    const changed = await call('PUT', '/api/agents/pirate/config', {
      model: 'haiku',
      tools: null,
      prompt: 'Yo ho.',
    })
    assert.equal(changed.status, 200)
    assert.equal(changed.body.model, 'haiku')
    assert.equal(changed.body.tools, null)
    assert.equal(changed.body.description, 'Talks like a pirate')
    const rewritten = readFileSync(join(userDir(), 'pirate.md'), 'utf8')
    assert.ok(!rewritten.includes('tools:'))
    assert.match(rewritten, /model: haiku\n---\n\nYo ho\.\n$/)
    expectInvalid(await call('PUT', '/api/agents/pirate/config', { max_turns: 0 }), 'body.max_turns')
    expectInvalid(await call('PUT', '/api/agents/pirate/config', { name: 'other' }), 'body.name')
    expectInvalid(await call('PUT', '/api/agents/pirate/config', { description: '' }), 'body.description')
    expectError(await call('PUT', '/api/agents/nobody/config', { model: 'x' }), 404, 'not_found')
    expectError(await call('PUT', '/api/agents/broken/config', { model: 'x' }), 422, 'invalid_agent_file')

    // The same name in both scopes: the project's wins, changes must say which.
    await call('POST', '/api/agents', {
      ...pirate,
      description: 'Project pirate',
      scope: 'project',
      workspace: g.home.workspace,
    })
    const both = await call('GET', `/api/agents?workspace=${ws()}`)
    const pirates = files(both.body).filter((agent) => agent.name === 'pirate')
    assert.deepEqual(
      pirates.map(({ scope, overridden }) => ({ scope, overridden })),
      [
        { scope: 'user', overridden: true },
        { scope: 'project', overridden: false },
      ],
    )
    assert.equal(
      (await call('GET', `/api/agents/pirate/config?workspace=${ws()}`)).body.description,
      'Project pirate',
    )
    expectError(
      await call('PUT', `/api/agents/pirate/config?workspace=${ws()}`, { model: 'opus' }),
      409,
      'ambiguous',
      'querystring.scope',
    )
    expectError(await call('DELETE', `/api/agents/pirate?workspace=${ws()}`), 409, 'ambiguous')

    // Deleting.
    assert.equal((await call('DELETE', `/api/agents/pirate?scope=project&workspace=${ws()}`)).status, 204)
    assert.ok(!existsSync(join(projectDir(), 'pirate.md')))
    expectError(await call('DELETE', `/api/agents/pirate?scope=project&workspace=${ws()}`), 404, 'not_found')
    assert.equal((await call('DELETE', `/api/agents/reviewer?workspace=${ws()}`)).status, 204)
    assert.equal((await call('DELETE', '/api/agents/broken')).status, 204)
    assert.equal((await call('DELETE', '/api/agents/pirate')).status, 204)
    assert.deepEqual(files((await call('GET', `/api/agents?workspace=${ws()}`)).body), [])
  })

  test("a session's main agent changes for its next turns; the conversation goes on", async () => {
    const marker = 'You are a parrot. Repeat everything. PARROT-PROMPT-7431.'
    const agent = await call('POST', '/api/agents', {
      name: 'parrot',
      description: 'Repeats what it hears',
      prompt: marker,
      tools: ['Read'],
      scope: 'user',
    })
    assert.equal(agent.status, 201)
    const session = await call('POST', '/api/sessions', {})
    const id = session.body.id as string
    assert.equal(session.body.agent, null)

    g.home.model.script(text('first answer'))
    assert.equal(
      (await call('POST', `/api/sessions/${id}/messages`, { content: 'hello' })).body.status,
      'success',
    )
    assert.ok(!JSON.stringify(g.home.model.turns.at(-1)!.body.system).includes('PARROT-PROMPT-7431'))

    const switched = await call('PUT', `/api/sessions/${id}/agent`, { agent: 'parrot' })
    assert.equal(switched.status, 200)
    assert.equal(switched.body.agent, 'parrot')
    g.home.model.script(text('squawk'))
    const turn = await call('POST', `/api/sessions/${id}/messages`, { content: 'say something' })
    assert.equal(turn.body.status, 'success')
    assert.equal(turn.body.text, 'squawk')
    let request = g.home.model.turns.at(-1)!.body
    // Claude Code runs a main-thread agent with the agent's prompt as its system prompt, and its tools.
    assert.ok(JSON.stringify(request.system).includes('PARROT-PROMPT-7431'), JSON.stringify(request.system))
    assert.ok(JSON.stringify(request.messages).includes('first answer'), 'context kept')
    const tools = ((request as { tools?: { name: string }[] }).tools ?? []).map((tool) => tool.name)
    assert.ok(tools.includes('Read'))
    assert.ok(!tools.includes('Bash'), tools.join())

    const cleared = await call('PUT', `/api/sessions/${id}/agent`, { agent: null })
    assert.equal(cleared.body.agent, null)
    g.home.model.script(text('back to normal'))
    await call('POST', `/api/sessions/${id}/messages`, { content: 'and now?' })
    request = g.home.model.turns.at(-1)!.body
    assert.ok(!JSON.stringify(request.system).includes('PARROT-PROMPT-7431'))
    assert.ok(JSON.stringify(request.messages).includes('squawk'), 'context kept')

    // Errors.
    expectError(await call('PUT', '/api/sessions/nope/agent', { agent: 'parrot' }), 404, 'not_found')
    expectInvalid(await call('PUT', `/api/sessions/${id}/agent`, {}), 'body.agent')
    expectInvalid(await call('PUT', `/api/sessions/${id}/agent`, { agent: '' }), 'body.agent')
    mkdirSync(userDir(), { recursive: true })
    writeFileSync(join(userDir(), 'mute.md'), '---\nname: mute\n---\nNo description')
    expectError(
      await call('PUT', `/api/sessions/${id}/agent`, { agent: 'mute' }),
      409,
      'agent_unavailable',
      'body.agent',
    )

    // Claude Code's own agents, once a process has reported them (when the gateway learns them).
    const listed = (await call('GET', '/api/agents')).body.agents as Json[]
    const builtin = listed.filter((entry) => entry.scope === 'builtin')
    if (builtin.length > 0) {
      const general = builtin.find((entry) => entry.name === 'general-purpose')
      assert.ok(general, JSON.stringify(builtin))
      assert.equal(general.path, null)
      assert.ok(!builtin.some((entry) => entry.name === 'parrot'), 'file agents are not built-in')
      expectError(
        await call('PUT', `/api/sessions/${id}/agent`, { agent: 'no-such-agent' }),
        404,
        'not_found',
        'body.agent',
      )
      assert.equal((await call('PUT', `/api/sessions/${id}/agent`, { agent: 'general-purpose' })).status, 200)
    }
  })
})

describe('native API: agents find the config folder the CLI gets', () => {
  // The CLI's environment is `claude.env` over the environment the gateway is given, neither of which is the
  // gateway's own process.env: each alone must be enough, with process.env naming no config folder.
  for (const inClaudeEnv of [false, true]) {
    const where = inClaudeEnv ? 'claude.env' : 'the environment given to the gateway'
    test(`CLAUDE_CONFIG_DIR set only in ${where}`, async () => {
      const saved = process.env.CLAUDE_CONFIG_DIR
      delete process.env.CLAUDE_CONFIG_DIR
      const home = await testHome()
      const configDir = home.env.CLAUDE_CONFIG_DIR!
      const { CLAUDE_CONFIG_DIR: _, ...gatewayEnv } = home.env
      const config = testConfig(home, {
        pool: { warmSpares: 0 },
        claude: { settingSources: ['user'], env: inClaudeEnv ? { CLAUDE_CONFIG_DIR: configDir } : {} },
      })
      const gateway = await startGateway({
        config,
        log: quietLog(),
        env: inClaudeEnv ? gatewayEnv : home.env,
      })
      try {
        mkdirSync(join(configDir, 'agents'), { recursive: true })
        writeFileSync(
          join(configDir, 'agents', 'scout.md'),
          '---\nname: scout\ndescription: Looks\n---\nLook.',
        )
        const { call } = nativeClient(() => gateway)
        const listed = (await call('GET', '/api/agents')).body.agents as Json[]
        const scout = listed.find((agent) => agent.name === 'scout')
        assert.ok(scout, JSON.stringify(listed))
        assert.equal(scout.scope, 'user')
        assert.equal(scout.path, join(configDir, 'agents', 'scout.md'))
        assert.equal(scout.loaded, true)
      } finally {
        await gateway.close()
        await home.close()
        if (saved !== undefined) process.env.CLAUDE_CONFIG_DIR = saved
      }
    })
  }
})
