/**
 * Steering a session from its page in a real browser, against a real gateway, the real CLI and the
 * scripted model: a message sent from the composer and its answer streaming in; permission requests
 * answered from the page (allow once, deny, always) unblocking the turn; a long turn interrupted; the model
 * and mode changed; pause and resume; an export downloaded; slash commands listed and run; a fork from a
 * message opening the fork, then closing it after a confirmation. Needs `npm run build` first.
 */
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { describe, test } from 'node:test'
import type { Page } from 'playwright-core'
import { browserSkip } from '../support/browser.js'
import { lightPage, withAdminUi } from '../support/browser-suite.js'
import type { Json } from '../support/native-client.js'
import { conversationTexts, text, toolCall } from '../support/scripted-anthropic.js'
import { waitUntil } from '../support/wait.js'

const skip = browserSkip()

describe('session actions in the admin UI', { skip }, () => {
  const { browser, fixture, call, createSession: create } = withAdminUi()
  const session = async (id: string) => (await call('GET', `/api/sessions/${id}`)).body
  const open = async (id: string) => {
    const { page, errors } = await lightPage(browser, { refusals: true })
    await page.goto(`${fixture.url}/admin/sessions/${id}`)
    await composer(page).waitFor()
    await page.getByText('Live', { exact: true }).waitFor()
    return { page, errors }
  }
  const composer = (page: Page) => page.getByRole('textbox', { name: 'Message to Claude' })
  const prompt = (page: Page, tool: string) =>
    page.getByRole('region', { name: `Claude wants to use ${tool}` })
  const toolCard = (page: Page, status: string) =>
    page.locator(`.tool-card[data-tool="Bash"][data-status="${status}"]`)

  test('a message sent from the composer: sent without waiting, its answer streams in', async () => {
    const id = await create({ title: 'Composer' })
    fixture.home.model.script(text('The build is green again.', { chunkSize: 4, chunkDelayMs: 20 }))
    const { page, errors } = await open(id)
    const sent = page.waitForResponse((response) => response.url().endsWith(`/api/sessions/${id}/messages`))
    await composer(page).fill('Is the build green?')
    await composer(page).press('Shift+Enter')
    await composer(page).pressSequentially('Answer briefly.')
    await composer(page).press('Enter')
    const response = await sent
    // Answered once the turn started, not when it ended: the answer comes on the page's live stream.
    assert.equal(response.status(), 202)
    assert.equal(response.request().headers().prefer, 'respond-async')
    assert.equal(response.request().postDataJSON().content, 'Is the build green?\nAnswer briefly.')
    assert.equal(await composer(page).inputValue(), '')
    await page.getByText('The build is green again.').waitFor({ timeout: 20_000 })
    await waitUntil(async () => (await session(id)).turns === 1, 10_000)
    assert.deepEqual(errors, [])
    await page.close()
  })

  test('permission requests answered from the page: allow once, deny, always allow', async () => {
    const id = await create({ title: 'Permissions', permission_mode: 'default', ask_permissions: true })
    const { page, errors } = await open(id)
    const send = async (content: string) => {
      await composer(page).fill(content)
      await composer(page).press('Enter')
    }

    // Commands that change the workspace: Claude Code lets read-only ones (echo, ls) run without asking.
    fixture.home.model.script(toolCall('Bash', { command: 'mkdir -v allowed-dir' }), text('It ran.'))
    await send('Make the folder')
    const asked = prompt(page, 'Bash')
    await asked.waitFor({ timeout: 20_000 })
    assert.match((await asked.textContent()) ?? '', /mkdir -v allowed-dir/)
    await browser.screenshot(page, 'permission')
    // Real buttons: focused, Enter answers.
    await asked.getByRole('button', { name: 'Allow once' }).focus()
    await page.keyboard.press('Enter')
    await asked.waitFor({ state: 'detached', timeout: 20_000 })
    await toolCard(page, 'succeeded').waitFor({ timeout: 20_000 })
    await page.getByText('It ran.').waitFor({ timeout: 20_000 })
    await toolCard(page, 'succeeded').locator('.tool-toggle').click()
    await toolCard(page, 'succeeded')
      .getByText(/created directory 'allowed-dir'/)
      .waitFor()

    fixture.home.model.script(
      toolCall('Bash', { command: 'mkdir -v denied-dir' }),
      text('Not allowed, then.'),
    )
    await send('Make another')
    await prompt(page, 'Bash').getByRole('button', { name: 'Deny' }).click({ timeout: 20_000 })
    await prompt(page, 'Bash').waitFor({ state: 'detached', timeout: 20_000 })
    await toolCard(page, 'denied').waitFor({ timeout: 20_000 })
    await page.getByText('Not allowed, then.').waitFor({ timeout: 20_000 })

    fixture.home.model.script(toolCall('Bash', { command: 'mkdir -v always-dir' }), text('Allowed for good.'))
    await send('Once more')
    await prompt(page, 'Bash').getByRole('button', { name: 'Always allow' }).click({ timeout: 20_000 })
    await page.getByText('Allowed for good.').waitFor({ timeout: 20_000 })
    assert.equal(await prompt(page, 'Bash').count(), 0)
    const rules = await call('GET', `/api/sessions/${id}/tool-permissions`)
    assert.deepEqual(rules.body.allowed_tools, ['Bash'])
    assert.deepEqual(errors, [])
    await page.close()
  })

  test('a prompt answered by another client goes away; the page ends the long turn by interrupting it', async () => {
    const id = await create({ title: 'Long turn', permission_mode: 'default', ask_permissions: true })
    const { page, errors } = await open(id)
    fixture.home.model.script(
      toolCall('Bash', { command: 'mkdir -v elsewhere-dir' }),
      text(`Working on it. ${'More to say. '.repeat(200)}`, { chunkSize: 6, chunkDelayMs: 100 }),
    )
    await composer(page).fill('Take your time')
    await composer(page).press('Enter')
    await prompt(page, 'Bash').waitFor({ timeout: 20_000 })
    const [waiting] = (await call('GET', `/api/sessions/${id}/permissions`)).body.items as Json[]
    await call('POST', `/api/sessions/${id}/permissions/${waiting!.request_id}`, { behavior: 'allow' })
    await prompt(page, 'Bash').waitFor({ state: 'detached', timeout: 10_000 })

    await page.getByText('Working on it.').waitFor({ timeout: 20_000 })
    await page.getByRole('button', { name: 'Interrupt' }).click()
    await page.getByRole('button', { name: 'Interrupt' }).waitFor({ state: 'detached', timeout: 20_000 })
    const history = await call('GET', `/api/sessions/${id}/history`)
    const ended = (history.body.items as Json[]).filter((item) => item.type === 'turn_completed')
    assert.deepEqual(
      ended.map((item) => item.status),
      ['interrupted'],
    )
    fixture.home.model.clearScript()
    assert.deepEqual(errors, [])
    await page.close()
  })

  test('model and mode change; pause and resume; an export downloads; slash commands run; refusals show', async () => {
    const id = await create({ title: 'Settings and commands' })
    const { page, errors } = await open(id)
    const model = page.getByRole('combobox', { name: 'Model' })
    await model.fill('opus')
    await model.press('Enter')
    await waitUntil(async () => (await session(id)).model === 'opus', 10_000)
    await page.getByRole('combobox', { name: 'Permission mode' }).selectOption('acceptEdits')
    await waitUntil(async () => (await session(id)).permission_mode === 'acceptEdits', 10_000)
    // Each change is marked in the timeline as it happens.
    const changes = page.locator('[data-decision="settings"]')
    await changes.getByText('Model: default → opus').waitFor()
    await changes.getByText('Permission mode: default → acceptEdits').waitFor()

    // Paused, the composer says why it takes nothing; resumed, it takes messages again.
    await page.getByRole('button', { name: 'Pause' }).click()
    await page.getByText('This session is paused: resume it to send messages.').waitFor()
    assert.equal(await composer(page).isDisabled(), true)
    assert.equal((await session(id)).state, 'paused')
    await page.getByRole('button', { name: 'Resume' }).click()
    await page.getByRole('button', { name: 'Pause' }).waitFor({ timeout: 20_000 })
    assert.equal(await composer(page).isDisabled(), false)

    // Exported as the file the gateway names.
    await page.getByText('Export', { exact: true }).click()
    const saving = page.waitForEvent('download')
    await page.getByRole('button', { name: 'Markdown' }).click()
    const download = await saving
    assert.equal(download.suggestedFilename(), `session-${id}.md`)
    assert.match(readFileSync((await download.path())!, 'utf8'), /Settings and commands/)

    await composer(page).fill('/hel')
    const menu = page.getByRole('listbox', { name: 'Slash commands' })
    await menu.getByRole('option', { name: /\/help/ }).waitFor()
    await composer(page).press('Enter')
    assert.equal(await composer(page).inputValue(), '/help ')
    await composer(page).press('Enter')
    const output = page.getByRole('region', { name: 'Output of /help' })
    await output.waitFor({ timeout: 10_000 })
    assert.match((await output.textContent()) ?? '', /\/status/)

    // The gateway's refusal, in its words, beside the composer; the text is kept to be fixed.
    await composer(page).fill('/status now')
    await composer(page).press('Enter')
    await page
      .getByRole('alert')
      .filter({ hasText: '/status takes no arguments' })
      .waitFor({ timeout: 10_000 })
    assert.equal(await composer(page).inputValue(), '/status now')
    assert.deepEqual(errors, [])
    await page.close()
  })

  test('a fork from a message opens the fork, which goes on from there; deleting it asks first', async () => {
    const id = await create({ title: 'Source' })
    fixture.home.model.script(text('First answer.'), text('Second answer.'))
    for (const content of ['First question', 'Second question'])
      assert.equal((await call('POST', `/api/sessions/${id}/messages`, { content })).status, 200)
    const { page, errors } = await open(id)
    const first = page.locator('.tl-row').filter({ hasText: 'First answer.' })
    await first.getByRole('button', { name: 'Fork from here' }).click()
    await page.waitForURL((url) => url.pathname !== `/admin/sessions/${id}`, { timeout: 10_000 })
    const forkId = new URL(page.url()).pathname.split('/').pop()!
    assert.equal((await session(forkId)).title, 'Source (fork)')
    await page.getByRole('heading', { name: 'Source (fork)' }).waitFor()
    // The fork's conversation (Claude Code's transcript) ends with the first answer.
    fixture.home.model.script(text('Forked answer.'))
    await composer(page).fill('And then?')
    await composer(page).press('Enter')
    await page.getByText('Forked answer.').waitFor({ timeout: 20_000 })
    const seen = conversationTexts(fixture.home.model.turns.at(-1)!.body).map((each) => each.text)
    assert.ok(seen.includes('First answer.') && !seen.includes('Second answer.'), JSON.stringify(seen))

    await page.getByRole('button', { name: 'Delete…' }).click()
    const dialog = page.getByRole('dialog', { name: 'Delete Source (fork)?' })
    await dialog.getByRole('button', { name: 'Close session' }).click()
    // Back to the sessions, where the fork is listed as closed (the API has no page for a closed one).
    await page.waitForURL(`${fixture.url}/admin/sessions`)
    await page.locator(`[data-session-id="${forkId}"]`).getByText('closed').waitFor({ timeout: 10_000 })
    const closed = await call('GET', '/api/sessions?state=closed')
    assert.deepEqual(
      (closed.body.items as Json[]).map((each) => each.id),
      [forkId],
    )
    assert.deepEqual(errors, [])
    await page.close()
  })
})
