/**
 * A real browser for the admin UI's tests: Debian's Chromium (/usr/bin/chromium, installed by .ci/run)
 * driven by playwright-core, pinned to the version made for that Chromium; no browser is ever downloaded.
 * Headless, with a fresh profile per suite and every background service off: this machine reaches no
 * other host, and Chromium would keep trying.
 *
 * Without Chromium the browser suites are skipped, saying why, except under CI=true, where a missing
 * browser is a failure (a skipped suite there would hide that nothing was tested).
 */
import assert from 'node:assert/strict'
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before } from 'node:test'
import { type BrowserContext, chromium, type Page } from 'playwright-core'
import { ADMIN_ROOT } from '../../src/api/admin.js'

export const CHROMIUM = '/usr/bin/chromium'

/** Chromium's flags: headless here, and this machine reaches no other host. */
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
]

/** The tests' window (and the benchmarks'). */
export const VIEWPORT = { width: 1280, height: 760 }

/** Where the tests' screenshots go: the README shows them. */
export const SCREENSHOTS = new URL('../../docs/screenshots/', import.meta.url)

/**
 * Why browser suites cannot run here (`describe(name, { skip: browserSkip() }, ...)`), or false. Printed
 * once, so that a skip is never silent. With a browser, the admin UI must be built: the suites test it.
 */
export function browserSkip(): string | false {
  if (existsSync(CHROMIUM)) {
    assert.ok(existsSync(`${ADMIN_ROOT}/index.html`), 'the admin UI is not built: run `npm run build`')
    return false
  }
  const reason = `no Chromium at ${CHROMIUM} (apt-get install -y chromium)`
  if (process.env.CI === 'true') throw new Error(`Browser tests cannot run under CI: ${reason}`)
  console.log(`# browser tests skipped: ${reason}`)
  return reason
}

export interface BrowserFixture {
  readonly context: BrowserContext
  /** A new tab, closed with the context. */
  page(): Promise<Page>
  /** Saves the page as docs/screenshots/<name>.png. */
  screenshot(page: Page, name: string): Promise<void>
}

/** Chromium with a profile of its own for the enclosing suite: launched in a `before`, closed in an `after`. */
export function withBrowser(): BrowserFixture {
  let context: BrowserContext | undefined
  let profile: string | undefined
  before(async () => {
    profile = mkdtempSync(join(tmpdir(), 'ccgw-chromium-'))
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_ARGS,
      viewport: VIEWPORT,
      deviceScaleFactor: 1,
      // The page under test is the only thing the browser should reach.
      serviceWorkers: 'block',
    })
  })
  after(async () => {
    await context?.close()
    if (profile) rmSync(profile, { recursive: true, force: true })
  })
  const started = () => {
    if (context === undefined) throw new Error('withBrowser: used before its before hook ran, or it failed')
    return context
  }
  return {
    get context() {
      return started()
    },
    page: () => started().newPage(),
    async screenshot(page, name) {
      mkdirSync(SCREENSHOTS, { recursive: true })
      await page.screenshot({ path: new URL(`${name}.png`, SCREENSHOTS).pathname })
    },
  }
}

/**
 * Errors the page logs or throws (a CSP refusal is one): a test ends with none. `refusals`: the test
 * provokes refusals of the gateway, which the page shows; the browser logs their status too, a line of its
 * own that is no error of the page.
 */
export function pageErrors(page: Page, { refusals = false } = {}): string[] {
  const errors: string[] = []
  page.on('console', (message) => {
    if (message.type() !== 'error') return
    if (refusals && message.text().includes('the server responded with a status')) return
    errors.push(message.text())
  })
  page.on('pageerror', (error) => errors.push(error.message))
  return errors
}
