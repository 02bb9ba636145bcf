/**
 * The code changes view in a real browser, against a real gateway, the real CLI and the scripted model: a
 * turn writes a file and then edits it (and writes another); the page, open since before the turn, shows
 * the rollup live, the edit's diff highlighted with its removed and added lines, unified and split (the
 * choice remembered), and the file compared from the start to now. Needs `npm run build` first.
 */
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import type { Locator, Page } from 'playwright-core'
import { browserSkip, pageErrors } from '../support/browser.js'
import { lightPage, screenshotBothThemes, withAdminUi } from '../support/browser-suite.js'
import { text, toolCall } from '../support/scripted-anthropic.js'

const skip = browserSkip()

const WRITTEN = [
  'export function greet(name: string): string {',
  "  return 'Hello, ' + name",
  '}',
  '',
  'export const DEFAULT_NAME = "world"',
  '',
].join('\n')

const figure = (page: Page, label: string) =>
  page.locator('.changes-figure').filter({ has: page.locator('dt', { hasText: new RegExp(`^${label}$`) }) })

const rowTexts = async (rows: Locator) => (await rows.allTextContents()).map((each) => each.trim())

describe('admin UI: code changes', { skip }, () => {
  const { browser, fixture, call, createSession } = withAdminUi({ pool: { warmSpares: 0 } })

  test('a file written then edited: rollup, the edit as a diff, split and unified, start → now', async () => {
    const id = await createSession({
      title: 'Greeting module',
      permission_mode: 'bypassPermissions',
    })
    const greeting = join(fixture.home.workspace, 'src', 'greeting.ts')
    const readme = join(fixture.home.workspace, 'README.md')

    const { page, errors } = await lightPage(browser)
    await page.goto(`${fixture.url}/admin/sessions/${id}/changes`)
    await page.getByRole('heading', { name: 'No code changes yet' }).waitFor()
    await page.getByText('Live', { exact: true }).waitFor()

    fixture.home.model.script(
      toolCall('Write', { file_path: greeting, content: WRITTEN }),
      toolCall('Edit', {
        file_path: greeting,
        old_string: "  return 'Hello, ' + name",
        new_string: "  const trimmed = name.trim()\n  return 'Hello, ' + trimmed + '!'",
      }),
      toolCall('Write', { file_path: readme, content: '# Greeting\n\nSays hello.\n' }),
      text('Wrote the greeting module, then trimmed the name.'),
    )
    const turn = await call('POST', `/api/sessions/${id}/messages`, { content: 'Write a greeting module' })
    assert.equal(turn.status, 200, turn.raw)
    assert.equal(turn.body.status, 'success', turn.raw)
    assert.match(readFileSync(greeting, 'utf8'), /const trimmed = name\.trim\(\)/)

    // The rollup arrives with the stream's file.changed events, without a reload.
    await figure(page, 'changes').getByText('3').waitFor({ timeout: 20_000 })
    assert.equal(await figure(page, 'files changed').locator('dd').textContent(), '2')
    assert.equal(await figure(page, 'lines added').locator('dd').textContent(), '+10')
    assert.equal(await figure(page, 'lines removed').locator('dd').textContent(), '−1')
    assert.equal(await figure(page, 'created').locator('dd').textContent(), '2')

    // The file list: a tree under the workspace, each file with its status.
    const files = page.getByRole('complementary', { name: 'Changed files' })
    await files.getByRole('button', { name: /src\// }).waitFor()
    const greetingRow = files.locator(`[data-path="${greeting}"]`)
    assert.match((await greetingRow.textContent()) ?? '', /greeting\.ts.*\+7.*−1.*created/)

    // Flat, filtered: the paths under the workspace, only those that match.
    await files.getByRole('button', { name: 'Flat' }).click()
    await files.getByLabel('Filter files').fill('READ')
    await files.locator(`[data-path="${greeting}"]`).waitFor({ state: 'detached' })
    assert.deepEqual(await rowTexts(files.locator('[data-path] .changes-file-name')), ['README.md'])
    await files.getByLabel('Filter files').fill('')
    assert.deepEqual(await rowTexts(files.locator('[data-path] .changes-file-name')), [
      'src/greeting.ts',
      'README.md',
    ])
    await files.getByRole('button', { name: 'Tree' }).click()

    // The edit's diff: its removed line and the two added ones, numbered, highlighted once the grammar loads.
    await greetingRow.click()
    assert.equal(new URL(page.url()).searchParams.get('path'), greeting)
    await page.getByRole('heading', { name: 'Changes to src/greeting.ts (2)' }).waitFor()
    const edit = page.locator('.change-card').filter({ hasText: 'Edit' })
    await edit.locator('tr.diff-removed').first().waitFor()
    assert.deepEqual(await rowTexts(edit.locator('tr.diff-removed .diff-code')), ["return 'Hello, ' + name"])
    assert.deepEqual(await rowTexts(edit.locator('tr.diff-added .diff-code')), [
      'const trimmed = name.trim()',
      "return 'Hello, ' + trimmed + '!'",
    ])
    assert.deepEqual(await rowTexts(edit.locator('tr.diff-removed .diff-number')), ['2', ''])
    await edit.locator('tr.diff-added .diff-code span[style*="--shiki-light"]').first().waitFor()

    // Split: the removed line beside the first added one; the choice outlives a reload.
    await page.getByRole('button', { name: 'Split' }).click()
    const pair = edit.locator('.diff-split tr').filter({ has: page.locator('td.diff-removed') })
    await pair.first().waitFor()
    assert.deepEqual(await rowTexts(pair.first().locator('td.diff-code')), [
      "return 'Hello, ' + name",
      'const trimmed = name.trim()',
    ])
    await page.reload()
    await page.locator('.change-card .diff-split').first().waitFor()
    assert.equal(await page.getByRole('button', { name: 'Split' }).getAttribute('aria-pressed'), 'true')
    await page.getByRole('button', { name: 'Unified' }).click()
    await page.locator('.change-card .diff-unified').first().waitFor()

    // Compared from the start to now: the whole file as it stands, every line added (the session created it).
    const compare = page.getByRole('region', { name: 'Compare' })
    assert.equal(await compare.getByLabel('File to compare').inputValue(), greeting)
    assert.equal(await compare.getByLabel('From point').inputValue(), '0')
    assert.equal(await compare.getByLabel('To point').inputValue(), 'now')
    await compare.locator('tr.diff-added').first().waitFor()
    const final = readFileSync(greeting, 'utf8').trimEnd().split('\n')
    assert.deepEqual(
      await rowTexts(compare.locator('tr.diff-added .diff-code')),
      final.map((line) => line.trim()),
    )
    assert.equal(await compare.locator('tr.diff-removed').count(), 0)

    // From after the Write to now: the edit alone, as a link can say.
    const written = await page.locator('.change-card').first().getAttribute('data-change-seq')
    await compare.getByLabel('From point').selectOption(written!)
    await compare.locator('tr.diff-removed').first().waitFor()
    assert.equal(new URL(page.url()).searchParams.get('from'), written)
    assert.equal(await compare.locator('tr.diff-added').count(), 2)

    await page.locator('.changes-main').evaluate((element) => element.scrollTo(0, 0))
    await screenshotBothThemes(browser, page, 'changes')
    assert.deepEqual(errors, [])
    await page.close()
  })

  test('a long file shows its first rows, highlighted, and more on demand', async () => {
    const id = await createSession({ permission_mode: 'bypassPermissions' })
    const long = Array.from({ length: 1000 }, (_, index) => `export const v${index + 1} = ${index + 1}\n`)
    fixture.home.model.script(
      toolCall('Write', { file_path: join(fixture.home.workspace, 'long.ts'), content: long.join('') }),
      text('Written.'),
    )
    const turn = await call('POST', `/api/sessions/${id}/messages`, { content: 'Write a long file' })
    assert.equal(turn.body.status, 'success', turn.raw)

    const page = await browser.page()
    const errors = pageErrors(page)
    await page.goto(`${fixture.url}/admin/sessions/${id}/changes`)
    const card = page.locator('.change-card')
    await card.locator('tr.diff-added').first().waitFor()
    // 400 rows: the hunk's header and 399 lines.
    assert.equal(await card.locator('tr.diff-added').count(), 399)
    await card.locator('tr.diff-added .diff-code span[style*="--shiki-light"]').first().waitFor()
    await card.getByRole('button', { name: 'Show 400 more rows' }).click()
    assert.equal(await card.locator('tr.diff-added').count(), 799)
    await card.getByRole('button', { name: 'Show 201 more rows' }).click()
    assert.equal(await card.locator('tr.diff-added').count(), 1000)
    assert.equal(await card.getByRole('button', { name: /more rows/ }).count(), 0)
    // Highlighted down to the last line once it shows.
    await card.locator('tr.diff-added').last().locator('span[style*="--shiki-light"]').first().waitFor()
    assert.deepEqual(errors, [])
    await page.close()
  })

  test('a session that is not there says so', async () => {
    const page = await browser.page()
    await page.goto(`${fixture.url}/admin/sessions/no-such-session/changes`)
    await page.getByRole('heading', { name: 'No such session' }).waitFor()
    await page.getByRole('link', { name: 'Go to the sessions' }).waitFor()
    await page.close()
  })
})
