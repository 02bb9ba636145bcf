/**
 * Seeded transcripts against the real CLI: a conversation history written with `seedTranscript` and resumed
 * reaches the model as real, separate user and assistant turns, images and tool calls included.
 */
import assert from 'node:assert/strict'
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  realpathSync,
  statSync,
  symlinkSync,
} from 'node:fs'
import { homedir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { getSessionMessages, type Options } from '@anthropic-ai/claude-agent-sdk'
import { claudeConfigDir, projectSlug, type SeedTurn, seedTranscript } from '../../src/engine/claude-home.js'
import type { ContentBlock } from '../../src/events/types.js'
import { runTurn, sessionIdOf } from '../support/cli-turn.js'
import { type TestHome, testHome } from '../support/harness.js'
import { conversationTexts, type MessagesRequestBody, text } from '../support/scripted-anthropic.js'

/** A valid 1×1 PNG. */
const PNG_1X1 =
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=='

const user = (content: SeedTurn['content']): SeedTurn => ({ role: 'user', content })
const assistant = (content: SeedTurn['content']): SeedTurn => ({ role: 'assistant', content })

type Line = { type: string; uuid: string; parentUuid: string | null; message: { content: ContentBlock[] } }
const readLines = (path: string): Line[] =>
  readFileSync(path, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Line)

/** The user and assistant messages of a model request, in order (the CLI's system messages left out). */
const turnsOf = (body: MessagesRequestBody) =>
  (body.messages ?? [])
    .filter((message) => message.role === 'user' || message.role === 'assistant')
    .map((message) => ({
      role: message.role,
      blocks:
        typeof message.content === 'string'
          ? [{ type: 'text', text: message.content }]
          : message.content.filter(
              (block) => !(block.type === 'text' && block.text?.startsWith('<system-reminder>')),
            ),
    }))

describe('seeded transcripts with the real CLI', () => {
  let home: TestHome
  let configDir: string

  const run = (prompt: string, options: Options = {}) => runTurn(home, prompt, options)

  before(async () => {
    home = await testHome()
    configDir = home.env.CLAUDE_CONFIG_DIR!
  })
  after(async () => {
    await home.close()
  })

  test('the project folder is the one the CLI itself uses, also for odd and long paths', async () => {
    const odd = join(home.root, 'ws.a_b c@d+é~x', 'x'.repeat(120), 'y'.repeat(100))
    mkdirSync(odd, { recursive: true })
    const slug = projectSlug(realpathSync(odd))
    const projects = join(configDir, 'projects')
    const before = new Set(existsSync(projects) ? readdirSync(projects) : [])
    home.model.script(text('fine'))
    const messages = await run('hello', { cwd: odd })
    const sessionId = sessionIdOf(messages)!
    const created = readdirSync(projects).filter((name) => !before.has(name))
    assert.deepEqual(created, [slug])
    assert.ok(slug.length > 200 && /^[a-zA-Z0-9-]+$/.test(slug), 'long names are cut and hashed')
    assert.ok(readdirSync(join(projects, slug)).includes(`${sessionId}.jsonl`))
  })

  test('a seeded conversation reaches the model as separate turns, image included', async (t) => {
    const image = { type: 'image', source: { type: 'base64', media_type: 'image/png', data: PNG_1X1 } }
    const { sessionId, path } = seedTranscript({
      configDir,
      cwd: home.workspace,
      turns: [
        user([{ type: 'text', text: 'What colour is this pixel?' }, image]),
        assistant('It is a single dark pixel.'),
        user('And how big is it?'),
        assistant([{ type: 'text', text: 'One pixel by one pixel.' }]),
      ],
    })

    assert.equal(path, join(configDir, 'projects', projectSlug(home.workspace), `${sessionId}.jsonl`))
    assert.equal(statSync(path).mode & 0o777, 0o600)
    const seeded = readLines(path)
    assert.deepEqual(
      seeded.map((line) => line.type),
      ['user', 'assistant', 'user', 'assistant'],
    )
    assert.deepEqual(
      seeded.map((line) => line.parentUuid),
      [null, ...seeded.slice(0, -1).map((line) => line.uuid)],
      'each record points at the one before it',
    )

    // The SDK reads the seeded file back (it looks in process.env.CLAUDE_CONFIG_DIR).
    const savedConfigDir = process.env.CLAUDE_CONFIG_DIR
    process.env.CLAUDE_CONFIG_DIR = configDir
    t.after(() => {
      if (savedConfigDir === undefined) delete process.env.CLAUDE_CONFIG_DIR
      else process.env.CLAUDE_CONFIG_DIR = savedConfigDir
    })
    const stored = await getSessionMessages(sessionId, { dir: home.workspace })
    assert.deepEqual(
      stored.map((m) => m.type),
      ['user', 'assistant', 'user', 'assistant'],
    )
    assert.ok(stored.every((m) => m.session_id === sessionId))

    home.model.script(text('Nothing else to add.'))
    const before = home.model.turns.length
    const messages = await run('Anything else?', { resume: sessionId })
    assert.equal(sessionIdOf(messages), sessionId, 'resume keeps the seeded session id')
    const result = messages.find((m) => m.type === 'result')
    assert.ok(result?.subtype === 'success')
    assert.equal(result.result, 'Nothing else to add.')

    const requests = home.model.turns.slice(before)
    assert.equal(requests.length, 1)
    const body = requests[0]!.body
    assert.deepEqual(conversationTexts(body), [
      { role: 'user', text: 'What colour is this pixel?' },
      { role: 'assistant', text: 'It is a single dark pixel.' },
      { role: 'user', text: 'And how big is it?' },
      { role: 'assistant', text: 'One pixel by one pixel.' },
      { role: 'user', text: 'Anything else?' },
    ])
    assert.deepEqual(
      turnsOf(body).map((turn) => turn.role),
      ['user', 'assistant', 'user', 'assistant', 'user'],
      'real, separate turns',
    )
    assert.deepEqual(turnsOf(body)[0]!.blocks[1], image, 'the image block arrives as it was seeded')

    // The CLI appends to the seeded file and leaves the seeded records as they were.
    const afterwards = readFileSync(path, 'utf8').split('\n')
    assert.deepEqual(
      afterwards.slice(0, seeded.length).map((line) => JSON.parse(line)),
      seeded,
    )
  })

  test('a history ending with a tool call and its result is accepted; the CLI closes the turn itself', async () => {
    const { sessionId } = seedTranscript({
      configDir,
      cwd: home.workspace,
      turns: [
        user('Which files are there?'),
        assistant([
          { type: 'text', text: 'Let me look.' },
          { type: 'tool_use', id: 'call_ls_1', name: 'Bash', input: { command: 'ls', description: 'List' } },
        ]),
        user([{ type: 'tool_result', tool_use_id: 'call_ls_1', content: 'a.txt\nb.txt' }]),
      ],
    })
    home.model.script(text('There are two files.'))
    const before = home.model.turns.length
    const messages = await run('Summarise.', { resume: sessionId })
    assert.equal(messages.find((m) => m.type === 'result')?.subtype, 'success')

    const turns = turnsOf(home.model.turns.slice(before)[0]!.body)
    assert.deepEqual(
      turns.map((turn) => [turn.role, turn.blocks.map((block) => block.type)]),
      [
        ['user', ['text']],
        ['assistant', ['text', 'tool_use']],
        ['user', ['tool_result']],
        // The CLI treats a transcript ending with a user turn as an unanswered turn and closes it with a
        // synthetic assistant message before the new one (Claude Code 2.1.332).
        ['assistant', ['text']],
        ['user', ['text']],
      ],
    )
    assert.deepEqual(turns[1]!.blocks[1], {
      type: 'tool_use',
      id: 'call_ls_1',
      name: 'Bash',
      input: { command: 'ls', description: 'List' },
    })
    assert.deepEqual(turns[2]!.blocks[0], {
      type: 'tool_result',
      tool_use_id: 'call_ls_1',
      content: 'a.txt\nb.txt',
    })
    assert.equal(turns[3]!.blocks[0]!.text, 'No response requested.')
    assert.equal(turns[4]!.blocks[0]!.text, 'Summarise.')
  })

  test('thinking blocks are sent back only under the model that is recorded for them', async () => {
    const turns = [
      user('Think first.'),
      assistant([
        { type: 'thinking', thinking: 'Considering it.', signature: 'sig-seeded' },
        { type: 'text', text: 'Done thinking.' },
      ]),
    ]
    const model = 'claude-sonnet-4-5'
    const blockTypes = async (seedModel: string | undefined) => {
      const { sessionId } = seedTranscript({ configDir, cwd: home.workspace, turns, model: seedModel })
      home.model.script(text('ok'))
      const before = home.model.turns.length
      await run('Next.', { resume: sessionId, model })
      const request = home.model.turns.slice(before)[0]!.body
      assert.equal(request.model, model)
      return turnsOf(request)[1]!.blocks
    }
    assert.deepEqual(await blockTypes(model), turns[1]!.content)
    assert.deepEqual(await blockTypes(undefined), [{ type: 'text', text: 'Done thinking.' }])
  })

  test('consecutive turns of one role become one message, tool results first, empty turns dropped', () => {
    const { path } = seedTranscript({
      configDir,
      cwd: home.workspace,
      turns: [
        user('one'),
        user([{ type: 'text', text: 'two' }]),
        assistant(''),
        assistant([{ type: 'tool_use', id: 't1', name: 'Read', input: { file_path: '/x' } }]),
        user('after the tool'),
        user([{ type: 'tool_result', tool_use_id: 't1', content: 'x' }]),
      ],
    })
    assert.deepEqual(
      readLines(path).map((line) => [
        line.type,
        line.message.content.map((block) => block.text ?? block.type),
      ]),
      [
        ['user', ['one', 'two']],
        ['assistant', ['tool_use']],
        ['user', ['tool_result', 'after the tool']],
      ],
    )
  })

  test('the file always lands inside the config folder, with a fresh id', () => {
    const first = seedTranscript({ configDir, cwd: '/../../etc/passwd/..', turns: [user('x')] })
    const second = seedTranscript({ configDir, cwd: '/../../etc/passwd/..', turns: [user('x')] })
    assert.equal(first.path, join(configDir, 'projects', '-etc', `${first.sessionId}.jsonl`))
    assert.notEqual(first.sessionId, second.sessionId)
    assert.equal(projectSlug('/srv/ws.a_b/c d'), '-srv-ws-a-b-c-d')

    // A project folder that is a link to somewhere else is refused.
    const elsewhere = join(home.root, 'elsewhere')
    const linkedConfig = join(home.root, 'linked-config')
    mkdirSync(elsewhere)
    mkdirSync(join(linkedConfig, 'projects'), { recursive: true })
    symlinkSync(elsewhere, join(linkedConfig, 'projects', projectSlug(realpathSync(home.workspace))))
    assert.throws(
      () => seedTranscript({ configDir: linkedConfig, cwd: home.workspace, turns: [user('x')] }),
      /outside the config folder/,
    )
    assert.deepEqual(readdirSync(elsewhere), [])
  })

  test('claudeConfigDir follows CLAUDE_CONFIG_DIR, then HOME', () => {
    assert.equal(claudeConfigDir({ CLAUDE_CONFIG_DIR: '/opt/cc', HOME: '/home/x' }), '/opt/cc')
    assert.equal(claudeConfigDir({ HOME: '/home/x' }), '/home/x/.claude')
    assert.equal(claudeConfigDir({}), join(homedir(), '.claude'))
  })
})
