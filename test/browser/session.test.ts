/**
 * The session page in a real browser, against a real gateway: a real turn through the CLI and the scripted
 * model (thinking, text streaming in, a Write tool card with its code and result), and a session of 10,000
 * events that opens at its end, keeps a few dozen rows in the page, pages its history in as it scrolls to
 * the top, goes back to the bottom, follows a live turn (a subagent's call nested under its Task) and
 * finds an old turn by search; and the decision points of a turn, marked. Needs `npm run build` first.
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import type { EventBody } from '../../src/events/types.js'
import { browserSkip, pageErrors } from '../support/browser.js'
import { lightPage, screenshotBothThemes, withAdminUi } from '../support/browser-suite.js'
import { text } from '../support/scripted-anthropic.js'
import { message, result, seededTurn, USAGE } from '../support/seeded-turns.js'

const skip = browserSkip()

describe('admin UI: the session page', { skip }, () => {
  const { browser, fixture, call, createSession } = withAdminUi({ pool: { warmSpares: 0 } })

  test('a real turn: thinking, text streaming in, a Write card with its code and result', async () => {
    const id = await createSession({
      title: 'Write the answer',
      permission_mode: 'bypassPermissions',
    })
    assert.equal(
      (await call('POST', `/api/sessions/${id}/thinking`, { type: 'enabled', budget_tokens: 2048 })).status,
      200,
    )

    const { page, errors } = await lightPage(browser)
    await page.goto(`${fixture.url}/admin/sessions/${id}`)
    await page.getByRole('heading', { name: 'Write the answer' }).waitFor()
    // No conversation yet: the one entry is the thinking turned on, marked.
    await page
      .locator('[data-decision="settings"]')
      .getByText('Thinking: default → enabled (2048 tokens)')
      .waitFor()
    await page.getByText('Live', { exact: true }).waitFor()

    const file = join(fixture.home.workspace, 'answer.ts')
    const reply = 'Done: **answer.ts** exports the answer, and `answer` is 42 as asked.'
    fixture.home.model.script(
      {
        blocks: [
          {
            type: 'thinking',
            thinking: 'The user wants a constant; a TypeScript module is enough.',
            signature: 'sig',
          },
          { type: 'text', text: 'I will write the file.' },
          {
            type: 'tool_use',
            name: 'Write',
            input: { file_path: file, content: 'export const answer = 42\n' },
          },
        ],
        chunkSize: 6,
        chunkDelayMs: 40,
      },
      text(reply, { chunkSize: 4, chunkDelayMs: 60 }),
    )
    const turn = call('POST', `/api/sessions/${id}/messages`, { content: 'Write answer.ts with the answer' })

    // The user's message, then Claude's answer while it streams: a part of it, marked as being written.
    await page
      .getByRole('region', { name: 'User message' })
      .getByText('Write answer.ts with the answer')
      .waitFor({ timeout: 30_000 })
    const streaming = page.locator('.tl-assistant[data-streaming]')
    await streaming.waitFor({ timeout: 30_000 })
    const partial = (await streaming.textContent()) ?? ''
    assert.ok(!partial.includes('as asked'), `the text was whole already: ${partial}`)

    const answer = await turn
    assert.equal(answer.body.status, 'success', answer.raw)
    await page.getByText('answer.ts exports the answer').waitFor()
    assert.equal(await page.locator('.tl-assistant[data-streaming]').count(), 0)

    const thinking = page.getByRole('region', { name: 'Thinking' })
    await thinking.getByText('a TypeScript module is enough').waitFor()
    await thinking.getByRole('button', { name: 'Thinking' }).click()
    await thinking.getByText('a TypeScript module is enough').waitFor({ state: 'detached' })
    await thinking.getByRole('button', { name: 'Thinking' }).click()

    const card = page.locator('article[data-tool="Write"]')
    await card.locator('[data-tool-status="succeeded"]').waitFor()
    await card.getByText('export const answer = 42').waitFor()
    // Highlighted once the grammar loaded: shiki's block replaces the plain one.
    await card.locator('.shiki').waitFor()
    await card.getByText('Result').waitFor()
    await card.getByRole('link', { name: file }).waitFor()

    // The turn's end is marked with what it took; the header counts the turn.
    await page
      .locator('[data-decision="turn"]')
      .getByText(/Turn completed · .* tokens · \$/)
      .waitFor()
    await page.locator('.session-facts').getByText('Turns').locator('..').getByText('1').waitFor()

    // Filters and search: tools only, then a search that finds the thinking.
    await page.getByRole('button', { name: 'Tools', exact: true }).click()
    await page.getByRole('button', { name: 'Text', exact: true }).click()
    await page.getByRole('button', { name: 'Thinking', exact: true }).first().click()
    await page.getByRole('button', { name: 'Decisions', exact: true }).click()
    assert.equal(await page.locator('.tl-row').count(), 0)
    await page.getByRole('button', { name: 'Show everything' }).click()
    await page.getByLabel('Search this session').fill('typescript module')
    await page.locator('[data-match-count]').getByText('1 of 1').waitFor()
    assert.equal(await page.locator('.tl-row[data-match="current"][data-kind="thinking"]').count(), 1)
    await page.getByLabel('Search this session').fill('')
    await page.getByLabel('Search this session').blur()

    // A roomier window than the tests' own, as the README shows it.
    await page.setViewportSize({ width: 1440, height: 900 })
    await screenshotBothThemes(browser, page, 'session')
    assert.deepEqual(errors, [])
    await page.close()
  })

  test('10,000 events: opens at the end, a few dozen rows in the page, scrolls to the top and back', async () => {
    const id = (await call('POST', '/api/sessions', { title: 'A very long session' })).body.id as string
    const { bus } = fixture.gateway.context
    const TURNS = 250
    for (let index = 1; index <= TURNS; index++)
      for (const body of seededTurn(index, 34)) bus.publish(id, body)
    assert.equal(bus.currentSeq(id), TURNS * 40)
    assert.ok(bus.currentSeq(id) >= 10_000)

    const page = await browser.page()
    const errors = pageErrors(page)
    const started = Date.now()
    await page.goto(`${fixture.url}/admin/sessions/${id}`)
    await page.getByText(`Answer ${TURNS}: word0`).waitFor()
    const opened = Date.now() - started
    assert.ok(opened < 5_000, `opening took ${opened} ms`)
    const rows = page.locator('.tl-row')
    assert.ok((await rows.count()) < 60, `${await rows.count()} rows in the page`)
    await page.getByText(`Question number 1:`, { exact: false }).waitFor({ state: 'detached' })

    // Scrolling up pages the older history in, until the first turn.
    const first = page.getByText('Question number 1: what changed?')
    const scroller = page.locator('[data-timeline]')
    // In the scroller's own box, not only in the page: while older rows come in above, the top rows are
    // in the page for the moment between the anchor's new scroll position and the list's next render.
    const firstInView = () =>
      scroller.evaluate((element) => {
        const view = element.getBoundingClientRect()
        return [...element.querySelectorAll('.tl-row')].some((row) => {
          const box = row.getBoundingClientRect()
          return (
            row.textContent?.includes('Question number 1: what changed?') &&
            box.bottom > view.top &&
            box.top < view.bottom
          )
        })
      })
    await scroller.hover()
    for (let attempt = 0; attempt < 200 && !(await firstInView()); attempt++) {
      await page.mouse.wheel(0, -6_000)
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    await first.waitFor({ timeout: 2_000 })
    assert.ok((await rows.count()) < 60, `${await rows.count()} rows in the page`)

    // Back to the latest.
    await page.getByRole('button', { name: 'Go to the latest' }).click()
    await page.getByText(`Answer ${TURNS}: word0`).waitFor()
    await first.waitFor({ state: 'detached' })

    // Live events of a new turn stream in at the bottom, and the view follows them.
    const distance = () =>
      scroller.evaluate((element) => element.scrollHeight - element.scrollTop - element.clientHeight)
    bus.publish(id, { type: 'turn.started', turnId: 'live-1', content: 'And now?' })
    for (const word of ['Streaming ', 'live ', 'words ', 'at ', 'the ', 'bottom.'])
      bus.publish(id, { type: 'text.delta', turnId: 'live-1', text: word, parentToolUseId: null })
    await page
      .locator('.tl-assistant[data-streaming]')
      .getByText('Streaming live words at the bottom.')
      .waitFor()
    assert.ok((await distance()) < 60, 'the view follows the stream')
    // Scrolled up by the user, it stays where it was.
    await scroller.hover()
    await page.mouse.wheel(0, -1_500)
    for (let attempt = 0; attempt < 50 && (await distance()) < 1_000; attempt++)
      await new Promise((resolve) => setTimeout(resolve, 20))
    assert.ok((await distance()) >= 1_000)
    const before = await scroller.evaluate((element) => element.scrollTop)
    bus.publish(id, { type: 'text.delta', turnId: 'live-1', text: ' More.', parentToolUseId: null })
    await new Promise((resolve) => setTimeout(resolve, 300))
    assert.equal(await scroller.evaluate((element) => element.scrollTop), before)
    await page.getByRole('button', { name: 'Go to the latest' }).click()
    await page.getByText('Streaming live words at the bottom. More.').waitFor()

    // A subagent's call nests under the Task that started it, and folds away with it.
    const task = { description: 'Explore', prompt: 'Find the config', subagent_type: 'Explore' }
    const nested: EventBody[] = [
      message('live-1', [{ type: 'tool_use', id: 'task-live', name: 'Task', input: task }], null),
      message(
        'live-1',
        [{ type: 'tool_use', id: 'read-live', name: 'Read', input: { file_path: '/w/config.ts' } }],
        'task-live',
      ),
      result('live-1', 'read-live', 'Read', 'export default {}', 'task-live'),
      result('live-1', 'task-live', 'Task', 'The config is config.ts', null),
    ]
    for (const body of nested) bus.publish(id, body)
    const read = page.locator('.tl-row[data-depth="1"] article[data-tool="Read"]')
    await read.locator('[data-tool-status="succeeded"]').waitFor()
    await page.locator('article[data-tool="Task"] [data-tool-status="succeeded"]').waitFor()
    await page.getByRole('button', { name: 'Hide the subagent’s 1 step' }).click()
    await read.waitFor({ state: 'detached' })
    await page.getByRole('button', { name: 'Show the subagent’s 1 step' }).click()
    await read.waitFor()

    // A search over the whole loaded session jumps to an old turn.
    await page.getByLabel('Search this session').fill('Question number 17:')
    await page.locator('[data-match-count]').getByText('1 of 1').waitFor()
    await page.getByText('Question number 17: what changed?').waitFor()
    assert.deepEqual(errors, [])
    await page.close()
  })

  test('decision points are marked: a permission denied, a retry, a compaction, a model change, settings changed, an interrupt', async () => {
    const id = (await call('POST', '/api/sessions', { title: 'Decisions' })).body.id as string
    const { bus } = fixture.gateway.context
    const turnId = 'decisions-1'
    const bash = { command: 'rm -rf build', description: 'Remove the build folder' }
    const events: EventBody[] = [
      { type: 'turn.started', turnId, content: 'Clean the build folder' },
      message(turnId, [{ type: 'tool_use', id: 'bash-1', name: 'Bash', input: bash }], null),
      {
        type: 'permission.requested',
        turnId,
        requestId: 'r1',
        toolUseId: 'bash-1',
        toolName: 'Bash',
        input: bash,
      },
      {
        type: 'permission.resolved',
        turnId,
        requestId: 'r1',
        behavior: 'deny',
        by: 'client',
        message: 'Not now',
      },
      { type: 'api.retry', turnId, attempt: 1, maxRetries: 10, delayMs: 1200, status: 529 },
      { type: 'compacted', turnId, trigger: 'auto', preTokens: 160_000, postTokens: 12_000 },
      { type: 'model.changed', turnId, model: 'sonnet' },
      {
        type: 'settings.changed',
        changes: { agent: { from: null, to: 'reviewer' }, permissionMode: { from: 'default', to: 'plan' } },
      },
      {
        type: 'turn.completed',
        turnId,
        status: 'interrupted',
        result: '',
        stopReason: null,
        durationMs: 5300,
        numTurns: 1,
        usage: USAGE,
        costUsd: 0.01,
      },
    ]
    for (const body of events) bus.publish(id, body)
    const page = await browser.page()
    const errors = pageErrors(page)
    await page.goto(`${fixture.url}/admin/sessions/${id}`)
    const marker = (type: string) => page.locator(`[data-decision="${type}"]`)
    await marker('permission').getByText('Permission for Bash: denied by a client — Not now').waitFor()
    await page.locator('article[data-tool="Bash"] [data-tool-status="denied"]').waitFor()
    await marker('retry').getByText('API retry 1/10 after 529, in 1.2 s').waitFor()
    await marker('compaction').getByText('160K → 12K tokens').waitFor()
    await marker('model').getByText('Model changed to sonnet').waitFor()
    await marker('settings').getByText('Agent: none → reviewer · Permission mode: default → plan').waitFor()
    await marker('turn').getByText('Interrupt', { exact: true }).waitFor()
    // The decisions alone: the conversation's text and tool calls filtered out.
    for (const kind of ['Text', 'Tools']) await page.getByRole('button', { name: kind, exact: true }).click()
    assert.equal(await page.locator('.tl-row').count(), 6)
    assert.deepEqual(errors, [])
    await page.close()
  })
})
