/**
 * Slash commands in the native API, against the real CLI and the scripted model: what a session lists
 * (the gateway's commands, command and skill files, Claude Code's own once a process reported them), what
 * Claude Code runs (locally, or as a prompt the model receives), what the gateway runs itself, and /clear.
 * Last, a local command's output sent on its own, which no command of this CLI version was seen to send.
 */
import assert from 'node:assert/strict'
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { describe, test } from 'node:test'
import type { SDKLocalCommandOutputMessage } from '@anthropic-ai/claude-agent-sdk'
import { Translator } from '../../src/engine/translate.js'
import { testConfig, testGateway, withGateway } from '../support/harness.js'
import { expectError, expectInvalid, type Json, nativeClient } from '../support/native-client.js'
import { conversationTexts, lastUserText, text } from '../support/scripted-anthropic.js'
import { waitUntil } from '../support/wait.js'

describe('native API: slash commands', () => {
  const file = (path: string, content: string) => {
    mkdirSync(dirname(path), { recursive: true })
    writeFileSync(path, content)
  }

  const g = withGateway(
    (home) => ({
      // No spare: Claude Code's own commands are unknown until the first session's process starts.
      pool: { warmSpares: 0 },
      claude: {
        settingSources: ['project', 'user'],
        env: { CLAUDE_CONFIG_DIR: home.env.CLAUDE_CONFIG_DIR! },
      },
    }),
    (home) => {
      const { workspace } = home
      const configDir = home.env.CLAUDE_CONFIG_DIR!
      file(
        join(workspace, '.claude/commands/review-pr.md'),
        '---\ndescription: Review a pull request\nargument-hint: <number> [focus]\n---\nReview pull request $ARGUMENTS carefully.\n',
      )
      file(join(workspace, '.claude/commands/frontend/component.md'), 'Create a component named $ARGUMENTS\n')
      file(
        join(workspace, '.claude/skills/greet/SKILL.md'),
        '---\nname: greet\ndescription: Greets people warmly\n---\nSay hello to $ARGUMENTS warmly.\n',
      )
      file(
        join(configDir, 'commands/standup.md'),
        '---\ndescription: Write my standup\n---\nWrite my standup.\n',
      )
      file(
        join(workspace, '.claude/settings.json'),
        JSON.stringify({
          hooks: { PreToolUse: [{ matcher: 'Bash', hooks: [{ type: 'command', command: 'echo checked' }] }] },
          permissions: { deny: ['WebFetch'] },
        }),
      )
      file(
        join(workspace, '.claude/agents/reviewer.md'),
        '---\nname: reviewer\ndescription: Reviews code\n---\nYou review code.\n',
      )
      mkdirSync(join(home.root, 'extra'))
      // A command file that leads out of the workspace is not read.
      file(join(home.root, 'secret.md'), '---\ndescription: SECRET\n---\nsecret\n')
      symlinkSync(join(home.root, 'secret.md'), join(workspace, '.claude/commands/leak.md'))
    },
  )

  const { call } = nativeClient(() => g.gateway)
  const newSession = async () =>
    (await call('POST', '/api/sessions', { permission_mode: 'bypassPermissions' })).body.id as string
  const run = (id: string, name: string, args?: string) =>
    call(
      'POST',
      `/api/sessions/${id}/commands/${encodeURIComponent(name)}`,
      args === undefined ? {} : { args },
    )
  /** Runs a command that must succeed (200). */
  const runOk = async (id: string, name: string, args?: string) => {
    const answer = await run(id, name, args)
    assert.equal(answer.status, 200, JSON.stringify(answer.body))
    return answer
  }
  const listed = async (path: string) => {
    const answer = await call('GET', path)
    assert.equal(answer.status, 200, JSON.stringify(answer.body))
    const commands = answer.body.commands as Json[]
    return {
      workspace: answer.body.workspace,
      builtinsReported: answer.body.builtins_reported,
      byName: (name: string, source?: string) =>
        commands.find((c) => c.name === name && (!source || c.source === source)),
    }
  }

  test('lists gateway commands and files at once, Claude Code’s own once a process has reported them', async () => {
    const id = await newSession()
    const early = await listed(`/api/sessions/${id}/commands`)
    assert.equal(early.builtinsReported, false)
    assert.equal(early.workspace, g.home.workspace)
    assert.deepEqual(early.byName('review-pr'), {
      name: 'review-pr',
      description: 'Review a pull request',
      argument_hint: '<number> [focus]',
      aliases: [],
      source: 'project',
      path: join(g.home.workspace, '.claude/commands/review-pr.md'),
      loaded: true,
      overridden: false,
    })
    assert.equal(early.byName('frontend:component')?.description, 'Create a component named $ARGUMENTS')
    assert.equal(early.byName('greet')?.source, 'skill-project')
    assert.equal(early.byName('standup')?.source, 'user')
    assert.equal(early.byName('status')?.source, 'gateway')
    assert.equal(early.byName('usage'), undefined)
    assert.equal(early.byName('leak'), undefined)

    // Before Claude Code has said which commands it has, it judges a name the gateway does not know.
    const cost = await runOk(id, '/cost')
    assert.equal(cost.body.source, null)
    assert.match(String(cost.body.output), /Total cost|Estimated cost/)

    await waitUntil(
      () => g.gateway.context.engine.cliCommands !== null,
      20_000,
      'Claude Code to report its commands',
    )
    const late = await listed(`/api/sessions/${id}/commands`)
    assert.equal(late.builtinsReported, true)
    const clear = late.byName('clear')!
    assert.equal(clear.source, 'builtin')
    assert.deepEqual([...(clear.aliases as string[])].sort(), ['new', 'reset'])
    assert.ok((late.byName('usage')!.aliases as string[]).includes('cost'))
    // Claude Code's /agents no longer works headless: the gateway's runs instead.
    assert.equal(late.byName('agents', 'gateway')?.overridden, false)
    assert.equal(late.byName('agents', 'builtin')?.overridden, true)
    // Files are not mistaken for Claude Code's own commands.
    assert.equal(late.byName('review-pr', 'plugin'), undefined)

    // Without a workspace, only the user's files; a workspace outside the roots is refused.
    const global = await listed('/api/commands')
    assert.equal(global.byName('review-pr'), undefined)
    assert.ok(global.byName('standup'))
    assert.ok(
      (await listed(`/api/commands?workspace=${encodeURIComponent(g.home.workspace)}`)).byName('review-pr'),
    )
    expectInvalid(await call('GET', '/api/commands?workspace=/etc'), 'querystring.workspace')
  })

  test('a local command runs in Claude Code without a model call; aliases and the slash are understood', async () => {
    const id = await newSession()
    const before = g.home.model.turns.length
    const usage = await runOk(id, '/usage')
    assert.equal(usage.body.command, 'usage')
    assert.equal(usage.body.source, 'builtin')
    assert.equal(usage.body.status, 'success')
    assert.match(String(usage.body.output), /Total duration/)
    assert.equal(usage.body.output, usage.body.result)
    const context = await run(id, 'context')
    assert.match(String(context.body.output), /Context Usage/)
    const stats = await run(id, 'stats')
    assert.equal(stats.body.command, 'usage')
    assert.equal(g.home.model.turns.length, before, 'the model was not called')

    // The history shows the command and Claude Code's answer to it; the event says it ran locally.
    const items = (await call('GET', `/api/sessions/${id}/history`)).body.items as Json[]
    assert.deepEqual(
      items.filter((item) => item.type === 'user').map((item) => item.content),
      ['/usage', '/context', '/usage'],
    )
    const answer = items.find((item) => item.type === 'assistant')!
    assert.equal(answer.synthetic, true)
    assert.equal(answer.model, '<synthetic>')
    const completed = (await g.gateway.context.bus.replay(id, 0, 1000))
      .filter((event) => event.type === 'turn.completed')
      .map((event) => (event.type === 'turn.completed' ? event.localCommand : undefined))
    assert.deepEqual(completed, ['usage', 'context', 'usage'])
  })

  test('a command file and a skill reach the model as their prompts, with the arguments in place', async () => {
    const id = await newSession()
    g.home.model.script(text('Reviewed: looks good.'), text('Hello Bob!'), text('Made it.'))
    const review = await runOk(id, 'review-pr', '42 security')
    assert.equal(review.body.source, 'project')
    assert.equal(review.body.output, 'Reviewed: looks good.')
    assert.equal(review.body.text, 'Reviewed: looks good.')
    const reviewPrompt = lastUserText(g.home.model.turns.at(-1)!.body)
    assert.match(reviewPrompt, /Review pull request 42 security carefully\./)
    assert.match(reviewPrompt, /<command-name>\/review-pr<\/command-name>/)

    const greet = await run(id, 'greet', 'Bob')
    assert.equal(greet.body.source, 'skill-project')
    assert.match(lastUserText(g.home.model.turns.at(-1)!.body), /Say hello to Bob warmly\./)
    await run(id, 'frontend:component', 'Button')
    assert.match(lastUserText(g.home.model.turns.at(-1)!.body), /Create a component named Button/)
  })

  test('a command waits behind the running turn, as a message does', async () => {
    const id = await newSession()
    g.home.model.script(text('slow answer', { delayMs: 1500 }))
    const finished: string[] = []
    const message = call('POST', `/api/sessions/${id}/messages`, { content: 'Take your time' }).then((a) => {
      finished.push('message')
      return a
    })
    await waitUntil(
      async () => (await g.gateway.context.engine.getSession(id))?.state === 'running',
      20_000,
      'the turn',
    )
    const usage = await run(id, 'usage')
    finished.push('command')
    assert.equal((await message).body.result, 'slow answer')
    assert.equal(usage.body.status, 'success')
    assert.deepEqual(finished, ['message', 'command'])
  })

  test('/help and /status are answered by the gateway from the session and its commands', async () => {
    const id = await newSession()
    const before = g.home.model.turns.length
    const help = await runOk(id, 'help')
    assert.equal(help.body.source, 'gateway')
    const output = String(help.body.output)
    assert.match(output, /^\/review-pr <number> \[focus\] — Review a pull request \[project\]$/m)
    assert.match(output, /^\/clear \[name\] — .*\(also \/reset, \/new\) \[builtin\]$/m)
    assert.match(output, /^\/status — .*\[gateway\]$/m)
    assert.doesNotMatch(output, /\/agents — .*\[builtin\]/, 'an overridden command is not offered')
    expectInvalid(await run(id, 'help', 'me'), 'body.args')

    const status = await run(id, 'status')
    const data = status.body.data as Json
    assert.equal(data.id, id)
    assert.equal(data.workspace, g.home.workspace)
    assert.match(String(status.body.output), new RegExp(`^Session: +${id}$`, 'm'))
    assert.match(String(status.body.output), /^Permission mode: +bypassPermissions$/m)
    assert.equal(g.home.model.turns.length, before, 'no model call')
  })

  test('/permissions changes the session’s rules; /add-dir adds a directory only under the roots', async () => {
    const id = await newSession()
    const shown = await run(id, 'permissions')
    assert.match(String(shown.body.output), /project settings \(.*settings\.json\):\n {2}deny: WebFetch/)

    await runOk(id, 'permissions', 'allow Bash(npm run test:*), Read')
    const denied = await run(id, 'permissions', 'deny Read')
    assert.deepEqual((denied.body.data as Json).allowed_tools, ['Bash(npm run test:*)'])
    const session = (await call('GET', `/api/sessions/${id}`)).body.settings as Json
    assert.deepEqual(session.allowed_tools, ['Bash(npm run test:*)'])
    assert.deepEqual(session.disallowed_tools, ['Read'])
    await run(id, 'permissions', 'remove Read')
    assert.deepEqual(((await call('GET', `/api/sessions/${id}`)).body.settings as Json).disallowed_tools, [])
    expectInvalid(await run(id, 'permissions', 'grant Read'), 'body.args')
    expectInvalid(await run(id, 'permissions', 'allow (oops)'), 'body.args')

    for (const outside of ['../..', '/etc', join(g.home.workspace, 'missing')])
      expectInvalid(await run(id, 'add-dir', outside), 'body.args')
    expectInvalid(await run(id, 'add-dir'), 'body.args')
    assert.deepEqual(
      ((await call('GET', `/api/sessions/${id}`)).body.settings as Json).additional_directories,
      [],
    )
    await runOk(id, 'add-dir', '../extra')
    assert.deepEqual(
      ((await call('GET', `/api/sessions/${id}`)).body.settings as Json).additional_directories,
      [join(g.home.root, 'extra')],
    )
  })

  test('/memory, /export, /resume, /hooks, /skills and /agents', async () => {
    const id = await newSession()
    g.home.model.script(text('The answer is 42.'))
    await call('POST', `/api/sessions/${id}/messages`, { content: 'What is the answer?' })

    await runOk(id, 'memory', 'Use pnpm, not npm')
    assert.equal(readFileSync(join(g.home.workspace, 'CLAUDE.md'), 'utf8'), '- Use pnpm, not npm\n')
    await run(id, 'memory', 'user Answer briefly')
    assert.equal(readFileSync(join(g.home.env.CLAUDE_CONFIG_DIR!, 'CLAUDE.md'), 'utf8'), '- Answer briefly\n')
    const memory = String((await run(id, 'memory')).body.output)
    assert.match(memory, /^project memory: .*CLAUDE\.md \(\d+ bytes\)\n- Use pnpm, not npm$/m)
    assert.match(memory, /^local memory: .*CLAUDE\.local\.md \(none\)$/m)

    const shown = await run(id, 'export')
    assert.match(String(shown.body.output), /What is the answer\?[\s\S]*The answer is 42\./)
    await runOk(id, 'export', 'notes/chat.html')
    const html = readFileSync(join(g.home.workspace, 'notes/chat.html'), 'utf8')
    assert.match(html, /^<!doctype html>/)
    assert.match(html, /The answer is 42\./)
    expectError(await run(id, 'export', '../outside.md'), 403, 'path_outside_workspace', 'body.args')
    assert.equal(existsSync(join(g.home.root, 'outside.md')), false)

    const resume = await run(id, 'resume')
    assert.match(String(resume.body.output), new RegExp(`^${id} .*\\(this session\\)$`, 'm'))
    const hooks = await run(id, 'hooks')
    assert.match(
      String(hooks.body.output),
      /^project settings \(.*\):\n {2}PreToolUse \[Bash\]: echo checked$/m,
    )
    const skills = await run(id, 'skills')
    assert.equal(skills.body.output, '/greet — Greets people warmly [skill-project]')
    const agents = await run(id, 'agents')
    assert.match(String(agents.body.output), /^reviewer \(project\) — Reviews code$/m)
  })

  test('/clear (and /reset) starts a new conversation: a boundary in the history, no memory of before', async () => {
    const id = await newSession()
    g.home.model.script(text('Noted.'))
    await call('POST', `/api/sessions/${id}/messages`, { content: 'The secret word is PINEAPPLE' })
    const before = (await call('GET', `/api/sessions/${id}`)).body.claude_session_id
    const reset = await runOk(id, 'reset')
    assert.equal(reset.body.command, 'clear')
    assert.equal(reset.body.status, 'success')
    const after = (await call('GET', `/api/sessions/${id}`)).body.claude_session_id
    assert.ok(typeof after === 'string' && after !== before, 'the session follows the new conversation')

    const items = (await call('GET', `/api/sessions/${id}/history`)).body.items as Json[]
    const boundary = items.findIndex((item) => item.type === 'conversation_reset')
    assert.ok(boundary > items.findIndex((item) => item.content === '/clear'), JSON.stringify(items))

    // The process goes away; the next message resumes the new conversation, not the old one.
    g.gateway.context.engine.restartRunner(id)
    await waitUntil(
      async () => (await g.gateway.context.engine.getSession(id))?.state === 'hibernated',
      20_000,
      'hibernation',
    )
    g.home.model.script(text('I do not know.'))
    const asked = await call('POST', `/api/sessions/${id}/messages`, { content: 'What is the secret word?' })
    assert.equal(asked.body.status, 'success')
    const seen = conversationTexts(g.home.model.turns.at(-1)!.body).map((each) => each.text)
    assert.ok(seen.some((each) => each.includes('What is the secret word?')))
    assert.ok(!seen.some((each) => each.includes('PINEAPPLE')), JSON.stringify(seen))
    assert.equal((await call('GET', `/api/sessions/${id}`)).body.claude_session_id, after)
  })

  test('an unknown command is 404 with the nearest names; a closed session is 404 too', async () => {
    const id = await newSession()
    const before = g.home.model.turns.length
    const { message } = expectError(await run(id, 'stauts'), 404, 'not_found', 'params.name')
    assert.match(String(message), /Did you mean .*\/status\?$/)
    expectError(await run(id, 'no-such-thing-at-all'), 404, 'not_found', 'params.name')
    assert.equal(g.home.model.turns.length, before)
    expectInvalid(await run(id, '/'), 'params.name')
    expectError(await call('POST', '/api/sessions/nope/commands/help', {}), 404, 'not_found')
    expectInvalid(await call('POST', `/api/sessions/${id}/commands/help`, { args: 1 }))
  })

  test('the files of a scope Claude Code does not load are listed, not run', async () => {
    // The harness's default: Claude Code loads no settings, so no command or skill files.
    const unloaded = await testGateway(g.home, testConfig(g.home, { pool: { warmSpares: 0 } }))
    try {
      const base = unloaded.url
      const created = await fetch(`${base}/api/sessions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{}',
      })
      const id = ((await created.json()) as Json).id as string
      const list = (await (await fetch(`${base}/api/sessions/${id}/commands`)).json()) as Json
      const review = (list.commands as Json[]).find((entry) => entry.name === 'review-pr')!
      assert.deepEqual([review.loaded, review.overridden], [false, false])
      const answer = await fetch(`${base}/api/sessions/${id}/commands/review-pr`, { method: 'POST' })
      assert.equal(answer.status, 409)
      assert.match(
        ((await answer.json()) as { error: Json }).error.message as string,
        /settingSources lacks 'project'/,
      )
    } finally {
      await unloaded.close()
    }
  })
})

test('local command output the CLI sends on its own becomes a synthetic message of the turn', async () => {
  const output: SDKLocalCommandOutputMessage = {
    type: 'system',
    subtype: 'local_command_output',
    content: 'Voice mode is off',
    uuid: '11111111-2222-4333-8444-555555555555',
    session_id: 'claude-session',
  }
  assert.deepEqual(new Translator().translate(output, 'turn-1'), [
    {
      type: 'message',
      turnId: 'turn-1',
      messageId: output.uuid,
      model: '<synthetic>',
      content: [{ type: 'text', text: 'Voice mode is off' }],
      parentToolUseId: null,
      synthetic: true,
    },
  ])
})
