/**
 * A session's history, its export, its thinking setting and its memory files, against the real CLI and the
 * scripted model: real turns (a tool call writing a file, a thinking answer) give the history its content.
 */
import assert from 'node:assert/strict'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { before, describe, test } from 'node:test'
import { appended } from '../../src/api/native/memory.js'
import { withGateway } from '../support/harness.js'
import {
  expectError,
  expectInvalid,
  type Json,
  type NativeAnswer,
  nativeClient,
} from '../support/native-client.js'
import { text, toolCall } from '../support/scripted-anthropic.js'

describe('native API: history, export, thinking and memory', () => {
  const g = withGateway((home) => ({
    pool: { warmSpares: 0 },
    // Claude Code loads CLAUDE.md files only with these setting sources (the harness turns them off),
    // and its config dir, where the user memory lives, is the test's private one.
    claude: {
      settingSources: ['project', 'user', 'local'],
      env: { CLAUDE_CONFIG_DIR: home.env.CLAUDE_CONFIG_DIR! },
    },
  }))
  /** A session with two real turns: a Write tool call, then (thinking on) a thinking answer. */
  let id: string
  let turnIds: string[]
  const { call } = nativeClient(() => g.gateway)
  /** The session's export in `format`, asserted to be a `type` download named `session-<id>.<extension>`. */
  async function exported(format: string, type: string, extension: string): Promise<NativeAnswer> {
    const answer = await call('POST', `/api/sessions/${id}/export`, { format })
    assert.equal(answer.status, 200)
    assert.equal(answer.headers.get('content-type'), `${type}; charset=utf-8`)
    assert.equal(
      answer.headers.get('content-disposition'),
      `attachment; filename="session-${id}.${extension}"`,
    )
    return answer
  }

  before(async () => {
    id = (await call('POST', '/api/sessions', { permission_mode: 'bypassPermissions', title: 'History <1>' }))
      .body.id as string
    g.home.model.script(
      toolCall('Write', { file_path: join(g.home.workspace, 'hello.txt'), content: 'hi\n' }),
      text('Wrote it. <script>alert("x")</script> & done', { chunkSize: 3 }),
    )
    const first = await call('POST', `/api/sessions/${id}/messages`, {
      content: 'Write hello.txt <b>now</b>',
    })
    assert.equal(first.body.status, 'success')
    const thinking = await call('POST', `/api/sessions/${id}/thinking`, {
      type: 'enabled',
      budget_tokens: 2048,
    })
    assert.equal(thinking.status, 200)
    g.home.model.script({
      blocks: [
        { type: 'thinking', thinking: 'The file has ``` backticks?', signature: 'sig-1' },
        { type: 'text', text: 'It says hi.' },
      ],
    })
    const second = await call('POST', `/api/sessions/${id}/messages`, { content: 'What does it say?' })
    assert.equal(second.body.status, 'success')
    // Claude Code's own commands: a compaction, then a reset of the conversation.
    g.home.model.script(text('Summary: a file hello.txt was written; it says hi.'))
    const compact = await call('POST', `/api/sessions/${id}/messages`, { content: '/compact' })
    const clear = await call('POST', `/api/sessions/${id}/messages`, { content: '/clear' })
    turnIds = [first, second, compact, clear].map((turn) => turn.body.turn_id as string)
  })

  test('the history has every turn: user, assistant blocks, tool results, file changes, outcomes', async () => {
    const page = await call('GET', `/api/sessions/${id}/history`)
    assert.equal(page.status, 200)
    assert.equal(page.body.session_id, id)
    assert.equal(page.body.has_more, false)
    const items = page.body.items as Json[]
    const types = items.map((item) => item.type)
    // No streaming noise: deltas, usage, state changes stay out.
    assert.deepEqual(
      [...new Set(types)].sort(),
      [
        'assistant',
        'compaction',
        'conversation_reset',
        'file_change',
        'settings_change',
        'tool_result',
        'turn_completed',
        'user',
      ].sort(),
    )
    assert.deepEqual(
      types.filter((type) => type === 'user' || type === 'turn_completed'),
      [
        'user',
        'turn_completed',
        'user',
        'turn_completed',
        'user',
        'turn_completed',
        'user',
        'turn_completed',
      ],
    )
    for (let i = 1; i < items.length; i++)
      assert.ok((items[i]!.seq as number) > (items[i - 1]!.seq as number))
    for (const item of items) assert.match(item.ts as string, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
    // The cursor is the last event read, which can be past the last item (the session went idle after it).
    assert.ok((page.body.next_after as number) >= (items.at(-1)!.seq as number))

    const [user1, ...rest] = items
    assert.deepEqual(user1, {
      ...user1,
      type: 'user',
      turn_id: turnIds[0],
      content: 'Write hello.txt <b>now</b>',
    })
    const toolUse = rest.find((item) => item.type === 'assistant')!
    const [block] = toolUse.content as Json[]
    assert.equal(block!.type, 'tool_use')
    assert.equal(block!.name, 'Write')
    assert.equal(toolUse.synthetic, false)
    assert.equal(toolUse.parent_tool_use_id, null)
    const result = rest.find((item) => item.type === 'tool_result')!
    assert.equal(result.tool_use_id, block!.id)
    assert.equal(result.name, 'Write')
    assert.equal(result.is_error, false)
    const change = rest.find((item) => item.type === 'file_change')!
    assert.equal(change.kind, 'created')
    assert.equal(change.path, join(g.home.workspace, 'hello.txt'))
    assert.equal(change.after, 'hi\n')
    const [done1, done2, done3, done4] = rest.filter((item) => item.type === 'turn_completed')
    // Thinking turned on between the turns: a settings change of its own, in no turn.
    const settings = rest.find((item) => item.type === 'settings_change')!
    const seq = settings.seq as number
    const secondUser = items.filter((item) => item.type === 'user')[1]!
    assert.ok((done1!.seq as number) < seq && seq < (secondUser.seq as number))
    assert.deepEqual(settings, {
      ...settings,
      turn_id: null,
      changes: { thinking: { from: null, to: { type: 'enabled', budgetTokens: 2048 } } },
    })
    assert.equal(done1!.turn_id, turnIds[0])
    assert.equal(done1!.status, 'success')
    assert.equal(done1!.result, 'Wrote it. <script>alert("x")</script> & done')
    assert.equal(done1!.num_turns, 2)
    assert.equal(typeof done1!.cost_usd, 'number')
    assert.equal((done1!.usage as Json).output_tokens, 14)
    assert.equal(done2!.turn_id, turnIds[1])
    assert.deepEqual(
      [done3!.turn_id, done3!.status, done4!.turn_id, done4!.status],
      [turnIds[2], 'success', turnIds[3], 'success'],
    )
    const compaction = rest.find((item) => item.type === 'compaction')!
    assert.equal(compaction.turn_id, turnIds[2])
    assert.equal(compaction.trigger, 'manual')
    assert.equal(typeof compaction.pre_tokens, 'number')
    // The reset is a boundary of its own, between the /clear and its outcome, with Claude's new conversation.
    const reset = rest.find((item) => item.type === 'conversation_reset')!
    assert.equal(reset.turn_id, null)
    assert.equal(reset.trigger, 'clear')
    assert.match(reset.claude_session_id as string, /^[0-9a-f-]{36}$/)
    assert.ok((reset.seq as number) > (items.findLast((item) => item.type === 'user')!.seq as number))
    assert.ok((reset.seq as number) < (done4!.seq as number))
    const blocks = items
      .filter((item) => item.type === 'assistant' && item.turn_id === turnIds[1])
      .flatMap((item) => item.content as Json[])
    assert.deepEqual(
      blocks.map((b) => [b.type, b.thinking ?? b.text]),
      [
        ['thinking', 'The file has ``` backticks?'],
        ['text', 'It says hi.'],
      ],
    )
  })

  test('the history pages by sequence number; a page is bounded by limit', async () => {
    const whole = (await call('GET', `/api/sessions/${id}/history?limit=1000`)).body.items as Json[]
    const collected: Json[] = []
    let afterSeq = 0
    for (let pages = 0; ; pages++) {
      assert.ok(pages < 50)
      const page = (await call('GET', `/api/sessions/${id}/history?after=${afterSeq}&limit=3`)).body
      const items = page.items as Json[]
      assert.ok(items.length <= 3)
      collected.push(...items)
      afterSeq = page.next_after as number
      if (!page.has_more) break
      assert.equal(items.length, 3)
    }
    assert.deepEqual(collected, whole)
    // From the middle: exactly what follows.
    const middle = whole[4]!.seq as number
    const tail = (await call('GET', `/api/sessions/${id}/history?after=${middle}`)).body
    assert.deepEqual(tail.items, whole.slice(5))
    const end = (await call('GET', `/api/sessions/${id}/history?after=${afterSeq}`)).body
    assert.deepEqual(end.items, [])
    assert.equal(end.has_more, false)
    assert.equal(end.next_after, afterSeq)
  })

  test('the history pages backwards from the end with before; next_before continues it', async () => {
    const forwards = (await call('GET', `/api/sessions/${id}/history?limit=1000`)).body
    const whole = forwards.items as Json[]
    // Any number past the end reads the last page; it ends where the forward reading ends.
    const last = (await call('GET', `/api/sessions/${id}/history?before=9007199254740991&limit=3`)).body
    assert.deepEqual(last.items, whole.slice(-3))
    assert.equal(last.has_more, true)
    assert.equal(last.next_after, forwards.next_after)
    const collected: Json[] = []
    let beforeSeq = (last.next_after as number) + 1
    for (let pages = 0; ; pages++) {
      assert.ok(pages < 50)
      const page = (await call('GET', `/api/sessions/${id}/history?before=${beforeSeq}&limit=4`)).body
      collected.unshift(...(page.items as Json[]))
      beforeSeq = page.next_before as number
      if (!page.has_more) break
    }
    assert.deepEqual(collected, whole)
    const none = (await call('GET', `/api/sessions/${id}/history?before=1`)).body
    assert.deepEqual([none.items, none.has_more], [[], false])
    expectInvalid(await call('GET', `/api/sessions/${id}/history?before=0`), 'querystring.before')
  })

  test('direct tool calls made through the API are in the history and the export', async () => {
    const session = (await call('POST', '/api/sessions', {})).body.id as string
    const written = await call('POST', `/api/sessions/${session}/tools/write`, {
      file_path: 'direct.txt',
      content: '<i>direct</i>\n',
    })
    assert.equal(written.status, 200)
    const items = (await call('GET', `/api/sessions/${session}/history`)).body.items as Json[]
    assert.deepEqual(
      items.map((item) => item.type),
      ['tool_call', 'tool_result', 'file_change'],
    )
    const [callItem, result, change] = items
    assert.equal(callItem!.direct, true)
    assert.equal(callItem!.name, 'write')
    assert.deepEqual(callItem!.input, { file_path: 'direct.txt', content: '<i>direct</i>\n' })
    assert.equal(result!.tool_use_id, callItem!.tool_use_id)
    assert.equal(result!.is_error, false)
    assert.equal(change!.kind, 'created')
    assert.ok(new Set(items.map((item) => item.turn_id)).size === 1)
    const md = (await call('POST', `/api/sessions/${session}/export`, { format: 'markdown' })).raw
    assert.ok(md.includes('## Direct tool call'))
    assert.ok(md.includes('**Direct tool call: write**'))
    const html = (await call('POST', `/api/sessions/${session}/export`, { format: 'html' })).raw
    assert.ok(html.includes('&#60;i&#62;direct&#60;/i&#62;'))
    assert.doesNotMatch(html, /<i>/)
  })

  test('settings changed through the API: settings.changed with each value before and after, in the history', async () => {
    // An agent of the workspace's own (project settings are loaded here).
    const agents = join(g.home.workspace, '.claude', 'agents')
    mkdirSync(agents, { recursive: true })
    writeFileSync(
      join(agents, 'reviewer.md'),
      '---\nname: reviewer\ndescription: Reviews code\n---\nReview it.\n',
    )
    const session = (await call('POST', '/api/sessions', {})).body.id as string
    const { bus } = g.gateway.context
    const put = async (path: string, body: Json) => {
      const answer = await call('PUT', `/api/sessions/${session}/${path}`, body)
      assert.equal(answer.status, 200, answer.raw)
    }
    await put('context', { model: 'claude-sonnet-4-5', append_system_prompt: 'Be terse; the secret is 42.' })
    await put('agent', { agent: 'reviewer' })
    await put('tool-permissions', { permission_mode: 'plan' })
    // The same values again, and an empty change: nothing happened, nothing is said.
    await put('context', { model: 'claude-sonnet-4-5' })
    await put('agent', { agent: 'reviewer' })
    await put('context', {})
    await put('agent', { agent: null })
    const events = (await bus.replay(session, 0, 100)).filter((event) => event.type === 'settings.changed')
    assert.deepEqual(
      events.map((event) => event.type === 'settings.changed' && event.changes),
      [
        {
          model: { from: null, to: 'claude-sonnet-4-5' },
          appendSystemPrompt: { changed: true },
        },
        { agent: { from: null, to: 'reviewer' } },
        { permissionMode: { from: 'default', to: 'plan' } },
        { agent: { from: 'reviewer', to: null } },
      ],
    )
    const items = (await call('GET', `/api/sessions/${session}/history`)).body.items as Json[]
    assert.deepEqual(
      items.map(({ type, turn_id, changes }) => ({ type, turn_id, changes })),
      [
        {
          type: 'settings_change',
          turn_id: null,
          changes: {
            model: { from: null, to: 'claude-sonnet-4-5' },
            append_system_prompt: { changed: true },
          },
        },
        { type: 'settings_change', turn_id: null, changes: { agent: { from: null, to: 'reviewer' } } },
        {
          type: 'settings_change',
          turn_id: null,
          changes: { permission_mode: { from: 'default', to: 'plan' } },
        },
        { type: 'settings_change', turn_id: null, changes: { agent: { from: 'reviewer', to: null } } },
      ],
    )
    assert.deepEqual(
      items.map((item) => item.seq),
      events.map((event) => event.seq),
    )
    // The prompt's text is in no event and no export.
    assert.ok(!JSON.stringify(await bus.replay(session, 0, 100)).includes('secret is 42'))
    const md = (await call('POST', `/api/sessions/${session}/export`, { format: 'markdown' })).raw
    assert.ok(
      md.includes(
        '> **Settings changed:** model: default → claude-sonnet-4-5; append_system_prompt changed\n\n> **Settings changed:** agent: default → reviewer',
      ),
    )
    assert.ok(!md.includes('secret is 42'))
  })

  test('a long turn costs several bounded pages, not one unbounded read', async () => {
    const session = (await call('POST', '/api/sessions', {})).body.id as string
    const { bus } = g.gateway.context
    const turnId = 'long-turn'
    bus.publish(session, { type: 'turn.started', turnId, content: 'go on and on' })
    for (let i = 0; i < 30_000; i++)
      bus.publish(session, { type: 'text.delta', turnId, text: 'x', parentToolUseId: null })
    bus.publish(session, {
      type: 'message',
      turnId,
      messageId: 'msg_long',
      model: 'm',
      content: [{ type: 'text', text: 'x'.repeat(30_000) }],
      parentToolUseId: null,
      synthetic: false,
    })
    const pages: Json[] = []
    let afterSeq = 0
    do {
      const started = performance.now()
      const page = (await call('GET', `/api/sessions/${session}/history?after=${afterSeq}&limit=10`)).body
      assert.ok(performance.now() - started < 2_000)
      pages.push(page)
      afterSeq = page.next_after as number
    } while (pages.at(-1)!.has_more && pages.length < 10)
    // The first page stops at its scan budget with only the user turn; the next one reaches the message.
    assert.equal(pages.length, 2)
    assert.deepEqual(
      pages.map((page) => (page.items as Json[]).map((item) => item.type)),
      [['user'], ['assistant']],
    )
    assert.ok((pages[0]!.next_after as number) < 30_002)
    assert.equal(pages[1]!.next_after, 30_002)
  })

  test('history: validation errors name the parameter; unknown sessions are 404', async () => {
    expectInvalid(await call('GET', `/api/sessions/${id}/history?limit=0`), 'querystring.limit')
    expectInvalid(await call('GET', `/api/sessions/${id}/history?limit=1001`), 'querystring.limit')
    expectInvalid(await call('GET', `/api/sessions/${id}/history?after=-1`), 'querystring.after')
    expectInvalid(await call('GET', `/api/sessions/${id}/history?after=x`), 'querystring.after')
    expectInvalid(await call('GET', `/api/sessions/${id}/history?page=2`), 'querystring.page')
    expectError(await call('GET', '/api/sessions/nope/history'), 404, 'not_found')
  })

  test('export as JSON: the session and its history, as a download', async () => {
    const answer = await exported('json', 'application/json', 'json')
    const history = (await call('GET', `/api/sessions/${id}/history?limit=1000`)).body.items
    assert.deepEqual(answer.body.session, (await call('GET', `/api/sessions/${id}`)).body)
    assert.deepEqual(answer.body.items, history)
    assert.ok(!Number.isNaN(Date.parse(answer.body.exported_at as string)))
  })

  test('export as Markdown: turns as headings, thinking folded, tool calls and results fenced', async () => {
    const answer = await exported('markdown', 'text/markdown', 'md')
    const md = answer.raw
    assert.ok(md.startsWith('# History <1>\n'))
    assert.ok(md.indexOf('## Turn 1') < md.indexOf('## Turn 2'))
    assert.ok(md.includes('### User\n\nWrite hello.txt <b>now</b>'))
    assert.ok(md.includes('**Tool call: Write**'))
    assert.ok(
      md.includes(
        `\`\`\`json\n{\n  "file_path": "${join(g.home.workspace, 'hello.txt')}",\n  "content": "hi\\n"\n}\n\`\`\``,
      ),
    )
    assert.match(md, /\*\*Tool result: Write\*\* \(`[^`]+`\)\n\n```\n[^`]+\n```/)
    assert.ok(md.includes(`**File created:** \`${join(g.home.workspace, 'hello.txt')}\``))
    // The thinking and the text of one model response are one reply.
    assert.ok(
      md.includes(
        '### Assistant\n\n<details>\n<summary>Thinking</summary>\n\nThe file has ``` backticks?\n\n</details>\n\nIt says hi.',
      ),
    )
    assert.match(md, /\*Turn success · \d+ in \/ 14 out tokens · \$\d+\.\d{4} · \d+\.\d s\*/)
    assert.match(
      md,
      /## Turn 3\n[\s\S]*### User\n\n\/compact\n\n> \*\*Conversation compacted\*\* \(manual\): \d+ tokens/,
    )
    assert.match(
      md,
      /## Turn 4\n[\s\S]*---\n\n> \*\*Conversation reset\*\* \(clear\)[\s\S]*---\n\n\*Turn success/,
    )
    assert.match(
      md,
      /## Settings changed\n\n\*[^*]+\*\n\n> \*\*Settings changed:\*\* thinking: default → \{"type":"enabled","budgetTokens":2048\}\n\n## Turn 2/,
    )
    assert.ok(!md.includes('continued'))
  })

  test('export as HTML: self-contained, every text escaped', async () => {
    const answer = await exported('html', 'text/html', 'html')
    const html = answer.raw
    assert.ok(html.startsWith('<!doctype html>'))
    assert.ok(html.includes('<title>History &#60;1&#62;</title>'))
    // The model's <script> is text, not markup; nothing in the page runs or loads anything.
    assert.ok(html.includes('Wrote it. &#60;script&#62;alert(&#34;x&#34;)&#60;/script&#62; &#38; done'))
    assert.ok(html.includes('Write hello.txt &#60;b&#62;now&#60;/b&#62;'))
    assert.doesNotMatch(html, /<script|<b>|<link|<img|<iframe|\bsrc=|\bhref=|url\(/i)
    assert.ok(html.includes(`default-src 'none'`))
    assert.ok(
      html.includes(
        '<details><summary>Thinking</summary><div class="text">The file has ``` backticks?</div></details><div class="text">It says hi.</div>',
      ),
    )
    assert.ok(html.includes('Tool call: Write'))
    assert.ok(html.includes('<style>'))
    assert.match(html, /<div class="notice boundary">Conversation compacted \(manual\): \d+ tokens/)
    assert.match(html, /<div class="notice boundary">Conversation reset \(clear\)/)
    assert.ok(
      html.includes(
        '<div class="notice">Settings changed: thinking: default → {&#34;type&#34;:&#34;enabled&#34;',
      ),
    )
    // Four turns and the settings change between the first two.
    assert.equal(html.match(/<section>/g)!.length, 5)
  })

  test('export: validation errors name the field; unknown sessions are 404', async () => {
    expectInvalid(await call('POST', `/api/sessions/${id}/export`, { format: 'pdf' }), 'body.format')
    expectInvalid(await call('POST', `/api/sessions/${id}/export`, {}), 'body.format')
    expectInvalid(
      await call('POST', `/api/sessions/${id}/export`, { format: 'json', pretty: true }),
      'body.pretty',
    )
    expectError(await call('POST', '/api/sessions/nope/export', { format: 'json' }), 404, 'not_found')
  })

  test('thinking: enabled with a budget and disabled reach the model; adaptive is kept', async () => {
    // A model on which Claude Code sends the setting as it is (on adaptive-only models it is adaptive anyway).
    const session = (await call('POST', '/api/sessions', { model: 'claude-sonnet-4-5' })).body.id as string
    const enabled = await call('POST', `/api/sessions/${session}/thinking`, {
      type: 'enabled',
      budget_tokens: 3000,
    })
    assert.equal(enabled.status, 200)
    assert.equal(enabled.body.id, session)
    assert.deepEqual((enabled.body.settings as Json).thinking, { type: 'enabled', budgetTokens: 3000 })
    g.home.model.script(text('thought about it'))
    await call('POST', `/api/sessions/${session}/messages`, { content: 'think' })
    const sent = g.home.model.turns.at(-1)!.body.thinking
    assert.equal(sent?.type, 'enabled')
    assert.equal(sent?.budget_tokens, 3000)

    const disabled = await call('POST', `/api/sessions/${session}/thinking`, { type: 'disabled' })
    assert.deepEqual((disabled.body.settings as Json).thinking, { type: 'disabled' })
    g.home.model.script(text('no thoughts'))
    await call('POST', `/api/sessions/${session}/messages`, { content: 'do not think' })
    assert.equal(g.home.model.turns.at(-1)!.body.thinking?.type, 'disabled')
    const adaptive = await call('POST', `/api/sessions/${session}/thinking`, { type: 'adaptive' })
    assert.deepEqual((adaptive.body.settings as Json).thinking, { type: 'adaptive' })
    assert.deepEqual(((await call('GET', `/api/sessions/${session}`)).body.settings as Json).thinking, {
      type: 'adaptive',
    })

    const path = `/api/sessions/${session}/thinking`
    expectInvalid(await call('POST', path, { type: 'enabled' }), 'body.budget_tokens')
    expectInvalid(await call('POST', path, { type: 'enabled', budget_tokens: 100 }), 'body.budget_tokens')
    expectInvalid(await call('POST', path, { type: 'enabled', budget_tokens: '2048' }), 'body.budget_tokens')
    const unknown = await call('POST', path, { type: 'sometimes' })
    expectInvalid(unknown)
    assert.match((unknown.body.error as Json).field as string, /^body/)
    expectError(await call('POST', '/api/sessions/nope/thinking', { type: 'disabled' }), 404, 'not_found')
  })

  test('memory: the three CLAUDE.md files, added to and replaced; the next turn sees them', async () => {
    const workspace = join(g.home.root, 'memory-workspace')
    mkdirSync(workspace)
    const configDir = g.home.env.CLAUDE_CONFIG_DIR!
    const session = (await call('POST', '/api/sessions', { workspace })).body.id as string
    // A turn first, so the session has a live process that read its (empty) memory.
    g.home.model.script(text('before'))
    await call('POST', `/api/sessions/${session}/messages`, { content: 'hello' })

    const empty = await call('GET', `/api/sessions/${session}/memory`)
    assert.equal(empty.status, 200)
    assert.deepEqual(empty.body.files, [
      { scope: 'project', path: join(workspace, 'CLAUDE.md'), content: null, size: 0, truncated: false },
      { scope: 'local', path: join(workspace, 'CLAUDE.local.md'), content: null, size: 0, truncated: false },
      { scope: 'user', path: join(configDir, 'CLAUDE.md'), content: null, size: 0, truncated: false },
    ])

    const path = `/api/sessions/${session}/memory`
    const added = await call('POST', path, {
      scope: 'project',
      mode: 'add',
      content: 'Answer like a pirate, always',
    })
    assert.equal(added.status, 200)
    assert.deepEqual(added.body, {
      scope: 'project',
      path: join(workspace, 'CLAUDE.md'),
      content: '- Answer like a pirate, always\n',
      size: 31,
      truncated: false,
    })
    await call('POST', path, { scope: 'project', content: 'Use tabs for indentation' }) // mode defaults to add
    await call('POST', path, { scope: 'project', mode: 'add', content: 'Build:\n  npm run build' })
    assert.equal(
      readFileSync(join(workspace, 'CLAUDE.md'), 'utf8'),
      '- Answer like a pirate, always\n- Use tabs for indentation\n\nBuild:\n  npm run build\n',
    )
    await call('POST', path, {
      scope: 'local',
      mode: 'replace',
      content: '# Local\nMy sandbox token is fake-ocelot\n',
    })
    await call('POST', path, { scope: 'user', mode: 'add', content: 'Sign every answer with a wombat' })
    const read = (await call('GET', path)).body.files as Json[]
    assert.deepEqual(
      read.map((file) => file.content),
      [
        '- Answer like a pirate, always\n- Use tabs for indentation\n\nBuild:\n  npm run build\n',
        '# Local\nMy sandbox token is fake-ocelot\n',
        '- Sign every answer with a wombat\n',
      ],
    )
    assert.equal(readFileSync(join(configDir, 'CLAUDE.md'), 'utf8'), '- Sign every answer with a wombat\n')

    // The same session's next turn: Claude Code sends the memory to the model.
    g.home.model.script(text('Arr'))
    const turn = await call('POST', `/api/sessions/${session}/messages`, { content: 'who are you?' })
    assert.equal(turn.body.status, 'success')
    const request = JSON.stringify(g.home.model.turns.at(-1)!.body)
    assert.ok(request.includes('Answer like a pirate, always'), 'project memory reaches the model')
    assert.ok(request.includes('fake-ocelot'), 'local memory reaches the model')
    assert.ok(request.includes('Sign every answer with a wombat'), 'user memory reaches the model')

    const replaced = await call('POST', path, { scope: 'project', mode: 'replace', content: '' })
    assert.equal(replaced.body.content, '')
    assert.equal(readFileSync(join(workspace, 'CLAUDE.md'), 'utf8'), '')
  })

  test('memory: validation errors name the field, sizes are bounded, unknown sessions are 404', async () => {
    const path = `/api/sessions/${id}/memory`
    expectInvalid(await call('POST', path, { scope: 'team', content: 'x' }), 'body.scope')
    expectInvalid(await call('POST', path, { scope: 'project' }), 'body.content')
    expectInvalid(await call('POST', path, { scope: 'project', content: 5 }), 'body.content')
    expectInvalid(await call('POST', path, { scope: 'project', content: '  \n' }), 'body.content')
    expectInvalid(await call('POST', path, { scope: 'project', mode: 'append', content: 'x' }), 'body.mode')
    expectInvalid(await call('POST', path, { scope: 'project', content: 'x', extra: 1 }), 'body.extra')
    const big = 'x'.repeat(1024 * 1024 + 1)
    expectError(
      await call('POST', path, { scope: 'local', mode: 'replace', content: big }),
      413,
      'payload_too_large',
    )
    // An add that would make the file too large is refused too, and the file stays as it was.
    writeFileSync(join(g.home.workspace, 'CLAUDE.local.md'), 'y'.repeat(1024 * 1024 - 4))
    expectError(await call('POST', path, { scope: 'local', content: 'abcdef' }), 413, 'payload_too_large')
    assert.equal(readFileSync(join(g.home.workspace, 'CLAUDE.local.md'), 'utf8').length, 1024 * 1024 - 4)
    writeFileSync(join(g.home.workspace, 'CLAUDE.local.md'), '')
    expectError(await call('GET', '/api/sessions/nope/memory'), 404, 'not_found')
    expectError(
      await call('POST', '/api/sessions/nope/memory', { scope: 'user', content: 'x' }),
      404,
      'not_found',
    )
  })

  test('memory: a line is added as a bullet, several lines as a paragraph', async () => {
    assert.equal(appended('', 'one'), '- one\n')
    assert.equal(appended('- one', 'two'), '- one\n- two\n')
    assert.equal(appended('# Title\n', 'one'), '# Title\n\n- one\n')
    assert.equal(appended('- one\n', '* starred'), '- one\n* starred\n')
    assert.equal(appended('- one\n', 'a\nb'), '- one\n\na\nb\n')
    assert.equal(appended('text\n\n', '  spaced  '), 'text\n\n- spaced\n')
  })
})
