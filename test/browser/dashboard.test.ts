/**
 * The admin UI's dashboard in a real browser, against a real gateway and a real turn through the CLI: the
 * figures show, the turn moves them without a reload, a threshold set low turns a figure red and lists an
 * alert (and is still set after a reload), and the page asks for figures once a second, one request at a
 * time, and not at all while hidden. Needs `npm run build` first (npm test builds).
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Page } from 'playwright-core'
import { browserSkip } from '../support/browser.js'
import { inDarkTheme, lightPage, withAdminUi } from '../support/browser-suite.js'
import { text } from '../support/scripted-anthropic.js'

const skip = browserSkip()

/** A figure's value as the page shows it: `[data-figure]` for thresholded ones, else by tile and label. */
const figure = (page: Page, id: string) => page.locator(`[data-figure="${id}"] dd`)
const stat = (page: Page, tile: string, label: string) =>
  page.locator('.tile', { has: page.getByRole('heading', { name: tile, exact: true }) }).locator('.stat', {
    has: page.locator('dt', { hasText: new RegExp(`^${label}$`) }),
  })

/** Waits until `read` returns something `accept`s, polling the page. */
async function until<T>(read: () => Promise<T>, accept: (value: T) => boolean, timeout = 20_000): Promise<T> {
  const deadline = Date.now() + timeout
  for (;;) {
    const value = await read()
    if (accept(value)) return value
    if (Date.now() > deadline) throw new Error(`still ${JSON.stringify(value)} after ${timeout} ms`)
    await sleep(100)
  }
}

describe('admin UI dashboard', { skip }, () => {
  const { browser, fixture, call } = withAdminUi()

  test('the figures show, and a real turn moves them without a reload', async () => {
    const { page, errors } = await lightPage(browser)
    await page.goto(`${fixture.url}/admin/dashboard`)
    await page.getByRole('heading', { name: 'Dashboard' }).waitFor()
    await figure(page, 'turn_p50').waitFor()
    assert.equal(await figure(page, 'turn_p50').textContent(), '—', 'no turn yet')
    assert.equal(await stat(page, 'Throughput', 'Turns/min').locator('dd').textContent(), '0')
    assert.match((await figure(page, 'gateway_memory').textContent()) ?? '', /^\d+(\.\d)? (MB|GB)$/)
    // The charts come with their own chunk, after the figures.
    await page.locator('[data-chart="turn-latency"] canvas').first().waitFor()

    const created = await call('POST', '/api/sessions', { title: 'Dashboard turn' })
    assert.equal(created.status, 201, created.raw)
    fixture.home.model.fallback = () => text('The figures are in.')
    const turn = await call('POST', `/api/sessions/${created.body.id}/messages`, { content: 'Report' })
    assert.equal(turn.status, 200, turn.raw)

    const latency = await until(
      () => figure(page, 'turn_p50').textContent(),
      (value) => value !== '—',
    )
    assert.match(latency ?? '', /^\d+(\.\d+)? (ms|s)$/)
    await until(
      () => stat(page, 'Throughput', 'Turns/min').locator('dd').textContent(),
      (value) => value === '1',
    )
    assert.notEqual(await stat(page, 'Usage since start', 'Output tokens').locator('dd').textContent(), '0')
    // Let the charts draw a few seconds of it, all of them in view.
    await page.setViewportSize({ width: 1280, height: 1700 })
    await sleep(2_500)
    await browser.screenshot(page, 'dashboard')
    assert.deepEqual(errors, [])
    await page.close()
  })

  test('a threshold set low turns the figure red and lists an alert; it is kept after a reload', async () => {
    const { page, errors } = await lightPage(browser)
    await page.goto(`${fixture.url}/admin/dashboard`)
    const memory = page.locator('[data-figure="gateway_memory"]')
    await memory.waitFor()
    assert.equal(await memory.getAttribute('data-over'), null)
    await page.getByText('all within thresholds').waitFor()

    await page.getByRole('button', { name: 'Edit thresholds' }).click()
    const dialog = page.getByRole('dialog', { name: 'Alert thresholds' })
    await dialog.getByLabel('Gateway memory (RSS)').fill('-3')
    await dialog.getByText('A threshold is a number of 0 or more').waitFor()
    assert.equal(await dialog.getByRole('button', { name: 'Save' }).isDisabled(), true)
    await dialog.getByLabel('Gateway memory (RSS)').fill('1')
    await dialog.getByRole('button', { name: 'Save' }).click()
    await dialog.waitFor({ state: 'hidden' })

    const red = page.locator('[data-figure="gateway_memory"][data-over="true"]')
    await red.waitFor({ timeout: 5_000 })
    assert.match((await red.textContent()) ?? '', /over 1 MB/)
    const color = await page.evaluate(
      `getComputedStyle(document.querySelector('[data-figure="gateway_memory"] dd')).color`,
    )
    assert.equal(color, 'rgb(180, 35, 24)', 'the danger colour of the light theme')
    const alert = page.locator('[data-alert="gateway_memory"]')
    assert.match(
      (await alert.textContent()) ?? '',
      /Gateway memory \(RSS\) is .+, over its threshold of 1 MB/,
    )
    await page.getByText('1 figure over').waitFor()

    await page.reload()
    await red.waitFor()
    await alert.waitFor()

    await inDarkTheme(page, async () => {
      await page.locator('[data-chart="memory"] canvas').first().waitFor()
      await page.setViewportSize({ width: 1280, height: 1700 })
      await sleep(1_500)
      await browser.screenshot(page, 'dashboard-dark')
    })

    // Back to the defaults for the next test.
    await page.getByRole('button', { name: 'Edit thresholds' }).click()
    await dialog.getByRole('button', { name: 'Reset to defaults' }).click()
    await dialog.getByRole('button', { name: 'Save' }).click()
    await page.getByText('all within thresholds').waitFor()
    assert.deepEqual(errors, [])
    await page.close()
  })

  test('a request a second, one at a time, none while the tab is hidden', async () => {
    const page = await browser.page()
    let inFlight = 0
    let most = 0
    const started: number[] = []
    const isSnapshot = (url: string) => new URL(url).pathname === '/api/metrics'
    page.on('request', (request) => {
      if (!isSnapshot(request.url())) return
      started.push(Date.now())
      inFlight += 1
      most = Math.max(most, inFlight)
    })
    const settled = (request: { url(): string }) => {
      if (isSnapshot(request.url())) inFlight -= 1
    }
    page.on('requestfinished', settled)
    page.on('requestfailed', settled)
    await page.goto(`${fixture.url}/admin/dashboard`)
    await figure(page, 'turn_p50').waitFor()
    await sleep(3_000)
    const visible = started.length
    assert.ok(visible >= 2 && visible <= 5, `${visible} snapshots in about 3 s`)

    // As the browser does when the tab goes to the background.
    const setHidden = (hidden: boolean) =>
      page.evaluate(`
        Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => '${hidden ? 'hidden' : 'visible'}' })
        document.dispatchEvent(new Event('visibilitychange'))
      `)
    await setHidden(true)
    await sleep(300)
    const hiddenFrom = started.length
    await sleep(3_000)
    assert.equal(started.length, hiddenFrom, 'no request while hidden')

    await setHidden(false)
    await until(
      async () => started.length,
      (count) => count > hiddenFrom,
      2_000,
    )
    assert.equal(most, 1, 'one request in flight at most')
    await page.close()
  })
})
