/** The set-up the admin UI's browser suites share: Chromium, a gateway, calls to it, a page to watch. */
import assert from 'node:assert/strict'
import type { Page } from 'playwright-core'
import { type BrowserFixture, pageErrors, withBrowser } from './browser.js'
import { withGateway } from './harness.js'
import { type Json, nativeClient } from './native-client.js'

/**
 * Chromium, then a gateway (`withGateway`'s arguments), and calls to it, for the enclosing suite. The
 * browser first: after hooks run in order, and the pages' streams must be gone before the gateway closes.
 */
export function withAdminUi(...gateway: Parameters<typeof withGateway>) {
  const browser = withBrowser()
  const fixture = withGateway(...gateway)
  return { browser, fixture, ...nativeClient(() => fixture.gateway) }
}

/** The same against a gateway that asks for `key`: the suite's calls send it, as a client must. */
export function withKeyedAdminUi(key: string) {
  const suite = withAdminUi({ server: { apiKeys: [key] } })
  const call: typeof suite.call = (method, path, body, headers = {}) =>
    suite.call(method, path, body, { authorization: `Bearer ${key}`, ...headers })
  /** Creates a session (`body`: its settings) and returns its id. */
  const createSession = async (body: Json = {}): Promise<string> => {
    const created = await call('POST', '/api/sessions', body)
    assert.equal(created.status, 201, created.raw)
    return created.body.id as string
  }
  return { ...suite, call, createSession }
}

/**
 * A new tab in the light colour scheme (what the screenshots show), and the errors it logs (`pageErrors`,
 * with its options: `refusals` where the test provokes them).
 */
export async function lightPage(browser: BrowserFixture, errorOptions?: Parameters<typeof pageErrors>[1]) {
  const page = await browser.page()
  const errors = pageErrors(page, errorOptions)
  await page.emulateMedia({ colorScheme: 'light' })
  return { page, errors }
}

/**
 * Runs `look` in the dark theme, then switches back to the light one: the page remembers the theme for the
 * rest of the suite, and the other screenshots show the light one.
 */
export async function inDarkTheme(page: Page, look: () => Promise<void>) {
  await page.getByRole('button', { name: 'Switch to the dark theme' }).click()
  await look()
  await page.getByRole('button', { name: 'Switch to the light theme' }).click()
}

/** Saves the page as docs/screenshots/<name>.png and, in the dark theme, <name>-dark.png. */
export async function screenshotBothThemes(browser: BrowserFixture, page: Page, name: string) {
  await browser.screenshot(page, name)
  await inDarkTheme(page, () => browser.screenshot(page, `${name}-dark`))
}
