/**
 * `npm start`'s staleness check (scripts/build-if-stale.mjs): a completed build is used as it is until one
 * of its inputs changes; a build that did not complete, or whose inputs changed while it ran, is stale.
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { type TestContext, test } from 'node:test'
import { promisify } from 'node:util'
import { tempDir } from '../support/temp-dir.js'

const SCRIPT = new URL('../../scripts/build-if-stale.mjs', import.meta.url).pathname

/** Sets a file's (or folder's) modification time `secondsAgo` in the past. */
function age(path: string, secondsAgo: number): void {
  const time = new Date(Date.now() - secondsAgo * 1000)
  utimesSync(path, time, time)
}

/**
 * A package of its own for the test, never built, its inputs (and a dependency) a minute old so that a build
 * started now is newer than all of them; `script` runs the check against it.
 */
function stalePackage(t: TestContext) {
  const root = tempDir(t, 'ccgw-stale-')
  mkdirSync(join(root, 'src/api'), { recursive: true })
  mkdirSync(join(root, 'web/src'), { recursive: true })
  mkdirSync(join(root, 'web/node_modules'), { recursive: true })
  for (const file of ['package.json', 'src/api/a.ts', 'web/src/b.tsx', 'web/node_modules/c.js']) {
    writeFileSync(join(root, file), '')
    age(join(root, file), 60)
  }
  for (const dir of ['src', 'src/api', 'web', 'web/src', 'web/node_modules']) age(join(root, dir), 60)

  async function script(...args: string[]): Promise<{ code: number; out: string }> {
    try {
      const { stdout } = await promisify(execFile)(process.execPath, [SCRIPT, '--root', root, ...args])
      return { code: 0, out: stdout.trim() }
    } catch (error) {
      const failed = error as { code: number; stdout: string }
      return { code: failed.code, out: failed.stdout.trim() }
    }
  }
  return { root, script }
}

test('stale until a build completes, current after, stale again when an input changes', async (t) => {
  const { root, script } = stalePackage(t)
  assert.deepEqual(await script('--check'), { code: 1, out: 'stale: no completed build in dist/' })

  // A build that started but did not complete (tsc failed) is no build.
  assert.equal((await script('--started')).code, 0)
  assert.equal((await script('--check')).code, 1)
  assert.equal((await script('--built')).code, 0)
  assert.deepEqual(await script('--check'), { code: 0, out: '' })

  // Dependencies and build output inside the inputs do not count.
  writeFileSync(join(root, 'web/node_modules/c.js'), 'changed')
  assert.deepEqual(await script('--check'), { code: 0, out: '' })

  writeFileSync(join(root, 'src/api/a.ts'), 'changed')
  assert.deepEqual(await script('--check'), {
    code: 1,
    out: 'stale: src/api/a.ts changed since the last build',
  })
})

test('package.json, a new web file and a removed source file each make it stale', async (t) => {
  const { root, script } = stalePackage(t)
  const rebuilt = async () => {
    await script('--started')
    await script('--built')
    assert.equal((await script('--check')).code, 0)
  }
  await rebuilt()
  // mtime resolution: a change within the same millisecond as the build's start would not show.
  await new Promise((resolve) => setTimeout(resolve, 20))
  writeFileSync(join(root, 'package.json'), '{}')
  assert.deepEqual(await script('--check'), {
    code: 1,
    out: 'stale: package.json changed since the last build',
  })

  await rebuilt()
  await new Promise((resolve) => setTimeout(resolve, 20))
  writeFileSync(join(root, 'web/src/new.tsx'), '')
  assert.match((await script('--check')).out, /^stale: web\/src\/ /)

  await rebuilt()
  await new Promise((resolve) => setTimeout(resolve, 20))
  rmSync(join(root, 'src/api/a.ts'))
  assert.deepEqual(await script('--check'), { code: 1, out: 'stale: src/api/ changed since the last build' })
})

test('an input edited while the build ran makes that build stale', async (t) => {
  const { root, script } = stalePackage(t)
  await script('--started')
  await new Promise((resolve) => setTimeout(resolve, 20))
  writeFileSync(join(root, 'web/src/b.tsx'), 'edited during the build')
  await script('--built')
  assert.deepEqual(await script('--check'), {
    code: 1,
    out: 'stale: web/src/b.tsx changed since the last build',
  })
})
