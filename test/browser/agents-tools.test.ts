/**
 * The agents and tools views in a real browser, against a real gateway, the real CLI and the scripted
 * model: an agent created with the form and listed, then edited as a raw file (a refused value shown by
 * its field), its figures after a turn run as it, then deleted; the tool calls of a real turn listed live
 * and opened; permission rules changed; the direct `read` tool run from its generated form. Needs
 * `npm run build` first (npm test builds).
 */
import assert from 'node:assert/strict'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { browserSkip } from '../support/browser.js'
import { inDarkTheme, lightPage, withAdminUi } from '../support/browser-suite.js'
import { text, toolCall } from '../support/scripted-anthropic.js'

const skip = browserSkip()

describe('admin UI: agents and tools', { skip }, () => {
  const { browser, fixture, call, createSession } = withAdminUi(
    { claude: { settingSources: ['user'] }, pool: { warmSpares: 0 } },
    (home) => {
      // A rule of the user's settings file: shown read-only beside the session's own.
      const configDir = home.env.CLAUDE_CONFIG_DIR!
      mkdirSync(configDir, { recursive: true })
      writeFileSync(join(configDir, 'settings.json'), JSON.stringify({ permissions: { deny: ['WebFetch'] } }))
      writeFileSync(join(home.workspace, 'notes.txt'), 'first line\nsecond line\n')
    },
  )
  const agentConfig = async (name: string) => (await call('GET', `/api/agents/${name}/config`)).body

  test('an agent: created with the form, listed, edited as a file, its figures after a turn, deleted', async () => {
    const { page, errors } = await lightPage(browser, { refusals: true })
    await page.goto(`${fixture.url}/admin/agents`)
    await page.getByRole('link', { name: 'New agent' }).click()

    const name = page.getByLabel('Name', { exact: true })
    await name.fill('Reviewer Bot')
    await page.getByLabel('Description').fill('Reviews diffs for bugs')
    await page.getByRole('button', { name: 'Create agent' }).click()
    await page.getByText('1 to 64 lower-case letters').waitFor()

    await name.fill('reviewer-bot')
    await page.getByLabel('Model').fill('haiku')
    await page.getByLabel('Only these').check()
    await page.getByLabel('Read', { exact: true }).check()
    await page.getByLabel('Grep', { exact: true }).check()
    await page.getByLabel('System prompt').fill('You review diffs. Point at bugs, nothing else.')
    await page.getByRole('button', { name: 'Create agent' }).click()

    const row = page.locator('[data-agent="reviewer-bot"]')
    await row.waitFor()
    assert.equal(new URL(page.url()).pathname, '/admin/agents')
    assert.match((await row.textContent()) ?? '', /Reviews diffs for bugs.*user.*haiku.*Read, Grep/)
    const created = await agentConfig('reviewer-bot')
    assert.deepEqual([created.tools, created.model], [['Read', 'Grep'], 'haiku'])

    // The gateway's refusal lands on the field it names: the name is taken.
    await page.getByRole('link', { name: 'New agent' }).click()
    await page.getByLabel('Name', { exact: true }).fill('reviewer-bot')
    await page.getByLabel('Description').fill('Another one')
    await page.getByRole('button', { name: 'Create agent' }).click()
    await page
      .locator('.field[data-invalid]', { hasText: 'Name' })
      .getByText(/already/)
      .waitFor()
    await page.getByRole('link', { name: 'Cancel' }).click()

    // Edited as its file: a value the gateway refuses is named, then a good one is saved.
    await row.getByRole('link', { name: 'reviewer-bot' }).click()
    await page.getByRole('tab', { name: 'File' }).click()
    const file = page.getByLabel(/The agent file/)
    const original = await file.inputValue()
    assert.match(
      original,
      /^---\nname: reviewer-bot\ndescription: Reviews diffs for bugs\ntools: Read, Grep\nmodel: haiku\n---\n\nYou review diffs/,
    )
    await file.fill(original.replace('model: haiku\n', 'model: sonnet\nmaxTurns: 0\n'))
    await page.getByRole('button', { name: 'Save' }).click()
    await page
      .getByRole('alert')
      .getByText(/maxTurns/)
      .waitFor()
    await file.fill(original.replace('model: haiku\n', 'model: sonnet\nmaxTurns: 4\n'))
    await page.getByRole('button', { name: 'Save' }).click()
    await page.getByRole('status').getByText('Saved').waitFor()
    const edited = await agentConfig('reviewer-bot')
    assert.deepEqual([edited.model, edited.max_turns, edited.tools], ['sonnet', 4, ['Read', 'Grep']])
    // The form shows what the file said.
    await page.getByRole('tab', { name: 'Form' }).click()
    assert.equal(await page.getByLabel('Model').inputValue(), 'sonnet')
    await page.getByText('Also set in the file, kept as they are: maxTurns').waitFor()
    await inDarkTheme(page, () => browser.screenshot(page, 'agent-editor-dark'))

    // A turn run as the agent: the list's figures follow, live.
    await page.getByRole('link', { name: 'All agents' }).click()
    await row.waitFor()
    const session = await call('POST', '/api/sessions', { title: 'Review', agent: 'reviewer-bot' })
    assert.equal(session.status, 201, session.raw)
    fixture.home.model.script(text('No bugs found.'))
    const turn = await call('POST', `/api/sessions/${session.body.id}/messages`, { content: 'Review this' })
    assert.equal(turn.status, 200, turn.raw)
    await row.getByText('1 turn', { exact: true }).waitFor({ timeout: 10_000 })
    assert.match((await row.textContent()) ?? '', /100%/)
    await browser.screenshot(page, 'agents')

    // Deleted, after a confirmation.
    await row.getByRole('link', { name: 'reviewer-bot' }).click()
    await page.getByRole('button', { name: 'Delete…' }).click()
    const dialog = page.getByRole('dialog', { name: 'Delete reviewer-bot?' })
    await dialog.getByRole('button', { name: 'Delete', exact: true }).click()
    await page.getByRole('heading', { name: 'Agents', exact: true }).waitFor()
    // Its figures stay, under its name, with no file to open.
    await row.getByText('figures only').waitFor()
    assert.equal(await row.getByRole('link').count(), 0)
    assert.equal((await call('GET', '/api/agents/reviewer-bot/config')).status, 404)
    assert.deepEqual(errors, [])
    await page.close()
  })

  test('tool calls of a real turn, live; permission rules changed; the read tool run from its form', async () => {
    const id = await createSession({
      title: 'Tool user',
      permission_mode: 'bypassPermissions',
    })
    const { page, errors } = await lightPage(browser, { refusals: true })
    await page.goto(`${fixture.url}/admin/tools`)
    await page.getByRole('heading', { name: 'Tools' }).waitFor()
    await page.getByText('Live', { exact: true }).waitFor()

    // A turn after the page opened: its call comes in through the stream.
    fixture.home.model.script(
      toolCall('Bash', { command: 'echo tool-calls-view' }),
      toolCall('Read', { file_path: join(fixture.home.workspace, 'notes.txt') }),
      text('Read it.'),
    )
    const turn = await call('POST', `/api/sessions/${id}/messages`, { content: 'Read the notes' })
    assert.equal(turn.status, 200, turn.raw)
    const rows = page.locator('[data-tool-call]')
    await page
      .locator('[data-tool-call][data-status="succeeded"]', { hasText: 'notes.txt' })
      .waitFor({ timeout: 10_000 })
    assert.match((await rows.first().textContent()) ?? '', /Read.*notes\.txt.*main/)
    await rows.filter({ hasText: 'echo tool-calls-view' }).waitFor()
    await browser.screenshot(page, 'tools')

    // Filtered on the server, and opened.
    await page.getByLabel('Tool name').fill('Bash')
    await page.getByText('1 call', { exact: true }).waitFor()
    await rows.getByRole('button').first().click()
    const details = page.getByRole('dialog')
    await details.getByText('echo tool-calls-view', { exact: false }).first().waitFor()
    assert.match((await details.textContent()) ?? '', /succeeded.*tool-calls-view/s)
    await details.getByRole('button', { name: 'Close' }).click()
    await page.getByLabel('Tool name').fill('')

    // The session's permission rules, beside the settings file's.
    await page.getByRole('link', { name: 'Permissions' }).click()
    await page.getByLabel('Session', { exact: true }).selectOption(id)
    const allowed = page.getByLabel('Add to: Allowed without asking')
    await allowed.fill('not a rule')
    await allowed.press('Enter')
    await page.getByText('A tool name, optionally with a pattern').waitFor()
    await allowed.fill('Bash(npm test:*)')
    await allowed.press('Enter')
    await page.getByLabel('Permission mode').selectOption('acceptEdits')
    await page.getByRole('button', { name: 'Save' }).click()
    await page.getByText('Saved: applies from the next turn').waitFor()
    const permissions = (await call('GET', `/api/sessions/${id}/tool-permissions`)).body
    assert.deepEqual(
      [permissions.permission_mode, permissions.allowed_tools],
      ['acceptEdits', ['Bash(npm test:*)']],
    )
    const settings = page.locator('.settings-file', { hasText: 'settings.json' }).first()
    assert.match((await settings.textContent()) ?? '', /user.*deny.*WebFetch/)

    // The direct read tool, from its generated form, in the chosen session's workspace.
    await page.getByRole('link', { name: 'Run a tool' }).click()
    await page.getByRole('radio', { name: 'read like Read' }).check()
    const run = page.getByRole('form', { name: 'Run read' })
    await run.getByRole('button', { name: 'Run read' }).click()
    await run.getByText('Required.').waitFor()
    await run.getByLabel('file_path').fill('notes.txt')
    await run.getByLabel('limit').fill('1')
    await run.getByRole('button', { name: 'Run read' }).click()
    const result = page.getByRole('region', { name: 'Result' })
    await result.getByText('first line').waitFor()
    assert.doesNotMatch((await result.textContent()) ?? '', /second line/)
    await run.getByLabel('file_path').fill('missing.txt')
    await run.getByRole('button', { name: 'Run read' }).click()
    await page
      .getByRole('alert')
      .getByText(/not_found/)
      .waitFor()

    // The direct call is one of the session's calls too.
    await page.getByRole('link', { name: 'Tool calls' }).click()
    await page.getByLabel('Caller').selectOption('direct')
    await rows.filter({ hasText: 'notes.txt' }).first().waitFor()
    assert.deepEqual(errors, [])
    await page.close()
  })
})
