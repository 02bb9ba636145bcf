/**
 * The admin UI's shell in a real browser, against a real gateway (and the real CLI for a turn): the sessions
 * list as a person sees it, kept live by the stream without a reload; the key prompt when keys are set, the
 * key kept out of every URL; deep links; the theme toggle; keyboard shortcuts. Needs `npm run build` first
 * (npm test builds).
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import type { Page, Request } from 'playwright-core'
import { browserSkip, pageErrors } from '../support/browser.js'
import { withAdminUi, withKeyedAdminUi } from '../support/browser-suite.js'
import { text } from '../support/scripted-anthropic.js'

const skip = browserSkip()

const row = (page: Page, id: string) => page.locator(`[data-session-id="${id}"]`)

describe('admin UI without keys', { skip }, () => {
  const { browser, fixture, call, createSession } = withAdminUi()
  const create = (title: string) => createSession({ title })

  test('/admin shows the sessions list; new sessions and turns appear live', async () => {
    const first = await create('Refactor the billing module')
    await create('Write tests for the parser')
    const page = await browser.page()
    const errors = pageErrors(page)
    await page.goto(`${fixture.url}/admin`)
    await row(page, first).waitFor()
    assert.equal(new URL(page.url()).pathname, '/admin/sessions')
    assert.match((await row(page, first).textContent()) ?? '', /Refactor the billing module/)
    await page.getByText('Live', { exact: true }).waitFor()

    // Created after the page loaded: it comes through the stream.
    const later = await create('Investigate the flaky deploy')
    await row(page, later).waitFor({ timeout: 10_000 })

    // A real turn: the row follows its state, then shows what it cost.
    fixture.home.model.fallback = () => text('Done: the deploy script retries now.')
    const turn = await call('POST', `/api/sessions/${later}/messages`, { content: 'Fix it' })
    assert.equal(turn.status, 200, turn.raw)
    // The state comes with the stream; tokens and turns with the row fetched again when the turn ended.
    await row(page, later).getByText('idle').waitFor({ timeout: 20_000 })
    await row(page, later).locator('[title$="turns: 1"]').waitFor({ timeout: 20_000 })
    await browser.screenshot(page, 'sessions-list')
    assert.deepEqual(errors, [])
    await page.close()
  })

  test('a deep link loads the app; g s goes to the sessions', async () => {
    const page = await browser.page()
    const response = await page.goto(`${fixture.url}/admin/sessions/not-a-real-id`)
    assert.equal(response?.status(), 200)
    await page.getByRole('navigation', { name: 'Views' }).waitFor()
    await page.keyboard.press('g')
    await page.keyboard.press('s')
    await page.getByRole('heading', { name: 'Sessions' }).waitFor()
    assert.equal(new URL(page.url()).pathname, '/admin/sessions')
    await page.close()
  })

  test('the theme toggle switches to dark and is remembered', async () => {
    const page = await browser.page()
    await page.emulateMedia({ colorScheme: 'light' })
    await page.goto(`${fixture.url}/admin/sessions`)
    const theme = () => page.locator('html').getAttribute('data-theme')
    assert.equal(await theme(), 'light')
    await page.getByRole('button', { name: 'Switch to the dark theme' }).click()
    assert.equal(await theme(), 'dark')
    const background = await page.evaluate('getComputedStyle(document.body).backgroundColor')
    assert.equal(background, 'rgb(22, 21, 20)')
    await page.reload()
    assert.equal(await theme(), 'dark')
    await page.getByRole('heading', { name: 'Sessions' }).waitFor()
    await page.locator('[data-session-id]').first().waitFor()
    await browser.screenshot(page, 'sessions-list-dark')
    await page.getByRole('button', { name: 'Switch to the light theme' }).click()
    await page.close()
  })

  test('1,000 sessions: a few dozen rows in the page, scrolling pages in the rest, search answers at once', async () => {
    const oldestId = await create('The oldest of them')
    for (let batch = 0; batch < 20; batch++)
      await Promise.all(
        Array.from({ length: 50 }, (_, index) => create(`Bulk session ${batch * 50 + index}`)),
      )
    const page = await browser.page()
    const errors = pageErrors(page)
    await page.goto(`${fixture.url}/admin/sessions`)
    await page.getByText(/^100\d sessions$/).waitFor()
    const rows = page.locator('[data-session-id]')
    assert.ok((await rows.count()) < 60, `${await rows.count()} rows in the page`)

    // The oldest of them is on the last page: scrolling down pages the list in.
    const oldest = row(page, oldestId)
    for (let attempt = 0; attempt < 20 && !(await oldest.isVisible()); attempt++) {
      await page.locator('.table-body').hover()
      await page.mouse.wheel(0, 20_000)
      await new Promise((resolve) => setTimeout(resolve, 200))
    }
    await oldest.waitFor({ timeout: 1000 })
    assert.ok((await rows.count()) < 60)

    const started = Date.now()
    await page.getByLabel('Search sessions').fill('Bulk session 999')
    await page.getByText(/^1 of 100\d sessions$/).waitFor()
    assert.ok(Date.now() - started < 2000, `search took ${Date.now() - started} ms`)
    assert.equal(await rows.count(), 1)
    assert.deepEqual(errors, [])
    await page.close()
  })
})

describe('admin UI with API keys', { skip }, () => {
  const KEY = 'admin-ui-test-key-5f2c'
  const { browser, fixture, createSession } = withKeyedAdminUi(KEY)

  test('the key prompt refuses a wrong key, takes the right one, and no URL carries it', async () => {
    const created = await createSession({ title: 'Behind a key' })
    const page = await browser.page()
    const requests: Request[] = []
    page.on('request', (request) => requests.push(request))

    await page.goto(`${fixture.url}/admin/`)
    const prompt = page.getByRole('dialog', { name: 'API key needed' })
    await prompt.waitFor()
    await prompt.getByLabel('API key').fill('not-the-key')
    await prompt.getByRole('button', { name: 'Use this key' }).click()
    await prompt.getByText('That key was refused').waitFor()

    await prompt.getByLabel('API key').fill(KEY)
    await prompt.getByRole('button', { name: 'Use this key' }).click()
    await row(page, created).waitFor()
    await page.getByText('Live', { exact: true }).waitFor()
    assert.equal(await prompt.isVisible(), false)

    // Live behind the key too.
    const later = await createSession({ title: 'Also behind it' })
    await row(page, later).waitFor({ timeout: 10_000 })

    for (const request of requests) assert.ok(!request.url().includes(KEY), request.url())
    const stream = requests.filter((request) => new URL(request.url()).pathname === '/api/events')
    assert.ok(stream.length > 0, 'the page opened the event stream')
    assert.equal(stream.at(-1)!.headers().authorization, `Bearer ${KEY}`)
    await page.close()
  })
})
