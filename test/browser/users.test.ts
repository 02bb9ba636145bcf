/**
 * Users in the admin UI, in a real browser against a real gateway (and the real CLI for a turn): an admin
 * signs in, creates a user, makes them a key (shown once, with its warning) and revokes it, and finds those
 * actions in the audit trail, filtered and exported; a viewer reads everything and is offered no change; a
 * user sees their own usage, their own sessions and no staff pages; signing out asks for a key again.
 * Needs `npm run build` first (npm test builds).
 */
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { describe, test } from 'node:test'
import type { Page } from 'playwright-core'
import { browserSkip, pageErrors } from '../support/browser.js'
import { lightPage, withAdminUi } from '../support/browser-suite.js'
import { text } from '../support/scripted-anthropic.js'

const skip = browserSkip()

const ADMIN = 'ui-admin-key-0123456789abcdef'
const VIEWER = 'ui-viewer-key-0123456789abcdef'
const USER = 'ui-user-key-0123456789abcdef'
const bearer = (key: string) => ({ authorization: `Bearer ${key}` })

/** Opens the UI and signs in with `key` through the key prompt; resolves once the header names `name`. */
async function signIn(page: Page, url: string, key: string, name: string): Promise<void> {
  await page.goto(`${url}/admin/sessions`)
  const prompt = page.getByRole('dialog', { name: 'API key needed' })
  await prompt.getByLabel('API key').fill(key)
  await prompt.getByRole('button', { name: 'Use this key' }).click()
  await page.locator(`[data-signed-in="${name}"]`).waitFor()
}

const nav = (page: Page) => page.getByRole('navigation', { name: 'Views' })

describe('admin UI: users, keys, audit, roles', { skip }, () => {
  const { browser, fixture, call } = withAdminUi((home) => ({
    pool: { warmSpares: 0 },
    users: {
      ...testUsersDefaults,
      list: [
        { name: 'root', role: 'admin', keys: [ADMIN] },
        { name: 'vera', role: 'viewer', keys: [VIEWER] },
        {
          name: 'uma',
          role: 'user',
          keys: [USER],
          workspaceRoots: [home.workspace],
          quotas: { tokensPerDay: 100_000, liveSessions: 5 },
        },
      ],
    },
  }))
  let umaSession = ''

  test('an admin creates a user, makes a key shown once, revokes it; the audit trail lists it all', async () => {
    const { page, errors } = await lightPage(browser, { refusals: true })
    await signIn(page, fixture.url, ADMIN, 'root')
    await page.locator('[data-signed-in="root"]').getByText('admin').waitFor()
    await nav(page).getByRole('link', { name: 'Users' }).waitFor()
    await nav(page).getByRole('link', { name: 'Audit' }).click()
    await page.getByRole('heading', { name: 'Audit' }).waitFor()
    await nav(page).getByRole('link', { name: 'Users' }).click()

    // Declared users are read-only; each shows their quotas.
    const uma = page.locator('[data-user="uma"]')
    await uma.waitFor()
    assert.match(
      (await uma.textContent()) ?? '',
      /config · read-only.*Live sessions: 5.*Tokens per day: 100K/,
    )

    // A new user: a wrong name is refused on its field, then created.
    await page.getByRole('button', { name: 'New user…' }).click()
    const create = page.getByRole('dialog', { name: 'New user' })
    await create.getByLabel('Name').fill('Dana Smith')
    await create.getByLabel('Tokens per day').fill('5000')
    await create.getByRole('button', { name: 'Create user' }).click()
    await create.getByText('1 to 64 lower-case letters').waitFor()
    await create.getByLabel('Name').fill('dana')
    await create.getByRole('button', { name: 'Create user' }).click()
    await page.getByRole('heading', { name: 'dana' }).waitFor()
    assert.equal(new URL(page.url()).pathname, '/admin/users/dana')
    const stored = await call('GET', '/api/users/dana', undefined, bearer(ADMIN))
    assert.deepEqual([stored.body.role, stored.body.source], ['user', 'store'])
    assert.deepEqual(stored.body.quotas, { tokens_per_day: 5000 })
    await page.locator('[data-quota="tokens_per_day"]').getByText('5K').first().waitFor()

    // A key: shown once, with the warning and a copy button.
    await page.getByText('No key made here yet').waitFor()
    await page.getByRole('button', { name: 'New key…' }).click()
    const newKey = page.getByRole('dialog', { name: 'New API key' })
    await newKey.getByLabel('Label').fill('laptop')
    await newKey.getByLabel('Expires after (days)').fill('30')
    await newKey.getByRole('button', { name: 'Create key' }).click()
    const shown = page.getByRole('dialog', { name: 'Copy the new key now' })
    await shown.getByText('This is the only time the key is shown').waitFor()
    await shown.getByRole('button', { name: 'Copy' }).waitFor()
    const key = await shown.getByLabel(/^Key/).inputValue()
    assert.match(key, /^ccgw_[A-Za-z0-9_-]{43}$/)
    await browser.screenshot(page, 'user-key-shown')
    const me = await call('GET', '/api/me', undefined, bearer(key))
    assert.deepEqual([me.status, me.body.user, me.body.role], [200, 'dana', 'user'])
    await shown.getByRole('button', { name: 'I have copied it' }).click()

    const row = page.locator('[data-key-id]')
    await row.first().waitFor()
    assert.equal(await row.count(), 1)
    assert.equal(await row.getAttribute('data-state'), 'active')
    assert.match((await row.textContent()) ?? '', new RegExp(`${key.slice(0, 11)}….*laptop.*active`))
    // Once closed, the key is nowhere in the page.
    assert.ok(!(await page.content()).includes(key))

    // Revoked after a confirmation: the key stops working.
    await row.getByRole('button', { name: 'Revoke…' }).click()
    const revoke = page.getByRole('dialog', { name: `Revoke ${key.slice(0, 11)}… (laptop)?` })
    await revoke.getByRole('button', { name: 'Revoke key' }).click()
    await page.locator('[data-key-id][data-state="revoked"]').waitFor()
    assert.equal(await page.getByRole('button', { name: 'Revoke…' }).count(), 0)
    assert.equal((await call('GET', '/api/me', undefined, bearer(key))).status, 401)

    // The audit trail: newest first, by root; filtered; exported with the filter.
    await nav(page).getByRole('link', { name: 'Audit' }).click()
    const entries = page.locator('[data-audit-action]')
    await page.locator('[data-audit-action="revokeKey"]').waitFor()
    const actions = await entries.evaluateAll((items) =>
      items.map((item) => item.getAttribute('data-audit-action')),
    )
    const order = ['revokeKey', 'createKey', 'createUser'].map((action) => actions.indexOf(action))
    assert.ok(
      order.every((index, at) => index >= 0 && (at === 0 || index > order[at - 1]!)),
      actions.join(),
    )
    assert.match(
      (await page.locator('[data-audit-action="createUser"]').first().textContent()) ?? '',
      /root.*createUser.*201/,
    )
    await browser.screenshot(page, 'audit')

    await page.getByLabel('Action').fill('revokeKey')
    await page.getByRole('button', { name: 'Filter' }).click()
    // Only the filtered entries stay: the others are gone once the answer is in.
    await page
      .locator('[data-audit-action]:not([data-audit-action="revokeKey"])')
      .first()
      .waitFor({ state: 'detached' })
    await entries.first().waitFor()
    assert.equal(await entries.count(), 1)

    const download = page.waitForEvent('download')
    await page.getByRole('button', { name: 'Export CSV' }).click()
    const file = await download
    const csv = readFileSync((await file.path())!, 'utf8')
    assert.match(csv, /revokeKey/)
    assert.doesNotMatch(csv, /createUser/)
    assert.deepEqual(errors, [])
    await page.close()
  })

  test('a viewer reads users, sessions and their owners, and is offered nothing that changes them', async () => {
    const created = await call(
      'POST',
      '/api/sessions',
      { title: 'Uma’s work', workspace: fixture.home.workspace },
      bearer(USER),
    )
    assert.equal(created.status, 201, created.raw)
    umaSession = created.body.id as string

    const page = await browser.page()
    const errors = pageErrors(page, { refusals: true })
    await signIn(page, fixture.url, VIEWER, 'vera')
    // Everyone's sessions, with whose each is.
    const sessionRow = page.locator(`[data-session-id="${umaSession}"]`)
    await sessionRow.waitFor()
    assert.equal(await sessionRow.locator('[data-owner]').getAttribute('data-owner'), 'uma')

    await nav(page).getByRole('link', { name: 'Users' }).click()
    await page.locator('[data-user="dana"]').waitFor()
    await browser.screenshot(page, 'users')
    assert.equal(await page.getByRole('button', { name: 'New user…' }).count(), 0)
    await page.locator('[data-user="dana"]').getByRole('link', { name: 'dana' }).click()
    await page.locator('[data-key-id]').waitFor()
    for (const name of ['New key…', 'Revoke…', 'Delete user…'])
      assert.equal(await page.getByRole('button', { name }).count(), 0, name)

    // A session: read, not steered.
    await page.goto(`${fixture.url}/admin/sessions/${umaSession}`)
    await page.getByRole('heading', { name: 'Uma’s work' }).waitFor()
    await page.locator('.session-facts').getByText('uma').waitFor()
    assert.equal(await page.getByLabel('Message to Claude').count(), 0)
    assert.equal(await page.getByRole('toolbar', { name: 'Session actions' }).count(), 0)
    await nav(page).getByRole('link', { name: 'Agents' }).click()
    await page.getByRole('heading', { name: 'Agents', exact: true }).waitFor()
    assert.equal(await page.getByRole('link', { name: 'New agent' }).count(), 0)
    assert.deepEqual(errors, [])
    await page.close()
  })

  test('a user sees their usage and their own sessions, no staff pages; signing out asks for a key', async () => {
    fixture.home.model.fallback = () => text('Done.')
    const turn = await call(
      'POST',
      `/api/sessions/${umaSession}/messages`,
      { content: 'Hello' },
      bearer(USER),
    )
    assert.equal(turn.status, 200, turn.raw)
    const elsewhere = await call('POST', '/api/sessions', { title: 'Root’s own' }, bearer(ADMIN))
    assert.equal(elsewhere.status, 201, elsewhere.raw)

    const { page, errors } = await lightPage(browser, { refusals: true })
    await signIn(page, fixture.url, USER, 'uma')
    await page.locator(`[data-session-id="${umaSession}"]`).waitFor()
    assert.equal(await page.locator(`[data-session-id="${elsewhere.body.id}"]`).count(), 0)
    assert.equal(await page.locator('[data-owner]').count(), 0)
    const links = await nav(page).getByRole('link').allTextContents()
    assert.deepEqual(links, ['Sessions', 'Agents', 'Tools', 'Your account'])

    await nav(page).getByRole('link', { name: 'Your account' }).click()
    const usage = page.getByRole('region', { name: 'Your usage' })
    const tokens = usage.locator('[data-quota="tokens_per_day"]')
    await tokens.waitFor()
    assert.match((await tokens.textContent()) ?? '', /Tokens per day.*100K/)
    // The turn's tokens count against the day.
    await tokens.locator('td').first().filter({ hasNotText: /^0$/ }).waitFor({ timeout: 10_000 })
    assert.ok((await tokens.getByRole('meter').count()) === 1)
    assert.match(
      (await usage.locator('[data-quota="live_sessions"]').textContent()) ?? '',
      /Live sessions1\s*5/,
    )
    await browser.screenshot(page, 'your-usage')

    // Signing out: the prompt asks for a key, with no refusal to report.
    await page.getByRole('button', { name: 'Sign out' }).first().click()
    const prompt = page.getByRole('dialog', { name: 'API key needed' })
    await prompt.waitFor()
    assert.equal(await prompt.getByText('That key was refused').count(), 0)
    assert.equal(await page.locator('[data-signed-in]').count(), 0)
    assert.deepEqual(errors, [])
    await page.close()
  })
})

/** The `users` settings the tests do not care about, as the configuration's defaults give them. */
const testUsersDefaults = { keyCacheMs: 1_000 }
