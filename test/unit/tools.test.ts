/** The direct tools (src/tools): confinement, each tool's Claude Code semantics, bash process groups. */
import assert from 'node:assert/strict'
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  realpathSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs'
import { dirname, join } from 'node:path'
import { Readable } from 'node:stream'
import { type TestContext, test } from 'node:test'
import {
  bashEnvironment,
  confine,
  DEFAULT_TOOL_LIMITS,
  describeTools,
  isSecretVariable,
  runTool,
  TOOL_NAMES,
  ToolError,
  type ToolLimits,
} from '../../src/tools/index.js'
import type { SearchInputType } from '../../src/tools/search.js'
import { searchWorkspace } from '../../src/tools/search-core.js'
import { Upload } from '../../src/tools/upload.js'
import { raceFolderWithSymlink, raceOutcomes, treeOf } from '../support/symlink-race.js'
import { tempDir as newTempDir } from '../support/temp-dir.js'
import { waitUntil } from '../support/wait.js'

// ---------------------------------------------------------------------------------------------- helpers

/** A folder of the test's own, by its real path: confinement resolves the workspace, so paths it reports are real. */
function tempDir(t: TestContext, prefix = 'ccgw-tools-'): string {
  return realpathSync(newTempDir(t, prefix))
}

/** Writes `files` (path → content) under `dir`, creating folders. */
function put(dir: string, files: Record<string, string | Buffer>): void {
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true })
    writeFileSync(join(dir, path), content)
  }
}

/** Empty files at `paths`, for the tests that look only at which files there are. */
function touch(dir: string, ...paths: string[]): void {
  put(dir, Object.fromEntries(paths.map((path) => [path, ''])))
}

/** Sets a file's mtime to `secondsAgo` before now. */
function age(path: string, secondsAgo: number): void {
  const when = new Date(Date.now() - secondsAgo * 1000)
  utimesSync(path, when, when)
}

async function rejectsWith(promise: Promise<unknown>, code: string, check?: (error: ToolError) => void) {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof ToolError, `expected a ToolError, got ${String(error)}`)
    assert.equal(error.code, code, error.message)
    check?.(error)
    return true
  })
}

const limits = (overrides: Partial<ToolLimits> = {}): ToolLimits => ({ ...DEFAULT_TOOL_LIMITS, ...overrides })

/** Calls searchWorkspace directly (no worker): the search's semantics, quickly. */
const search = (ws: string, input: SearchInputType, overrides: Partial<ToolLimits> = {}) =>
  searchWorkspace(ws, input, limits(overrides))

/**
 * A workspace plus, outside it, a folder with a secret file; inside the workspace: a symlink to the secret
 * file, a symlink to the outside folder, and a dangling symlink pointing outside.
 */
function escapeFixture(t: TestContext) {
  const ws = tempDir(t)
  const outside = tempDir(t, 'ccgw-outside-')
  put(outside, { 'secret.txt': 'TOP SECRET\n' })
  put(ws, { 'ok.txt': 'fine\n' })
  symlinkSync(join(outside, 'secret.txt'), join(ws, 'secret-link.txt'))
  symlinkSync(outside, join(ws, 'outdir'))
  symlinkSync(join(outside, 'new.txt'), join(ws, 'dangling.txt'))
  return { ws, outside }
}

// ---------------------------------------------------------------------------------------------- confine

test('confine resolves paths relative to the workspace, absolute ones inside it, and files not yet there', async (t) => {
  const ws = tempDir(t)
  put(ws, { 'src/a.ts': 'a' })
  assert.equal(await confine(ws, 'src/a.ts'), join(ws, 'src/a.ts'))
  assert.equal(await confine(ws, join(ws, 'src/a.ts')), join(ws, 'src/a.ts'))
  assert.equal(await confine(ws, './src/../src/a.ts'), join(ws, 'src/a.ts'))
  assert.equal(await confine(ws, 'new/deeper/file.txt'), join(ws, 'new/deeper/file.txt'))
  assert.equal(await confine(ws, '.'), ws)
})

test('confine works through a symlinked workspace and resolves symlinks that stay inside', async (t) => {
  const ws = tempDir(t)
  const links = tempDir(t)
  put(ws, { 'real/file.txt': 'x' })
  symlinkSync(ws, join(links, 'ws-link'))
  symlinkSync(join(ws, 'real'), join(ws, 'alias'))
  symlinkSync(join(ws, 'real/later.txt'), join(ws, 'dangling-inside'))
  const viaLink = join(links, 'ws-link')
  assert.equal(await confine(viaLink, 'real/file.txt'), join(ws, 'real/file.txt'))
  assert.equal(await confine(viaLink, join(viaLink, 'real/file.txt')), join(ws, 'real/file.txt'))
  assert.equal(await confine(ws, 'alias/file.txt'), join(ws, 'real/file.txt'))
  assert.equal(await confine(ws, 'alias/new.txt'), join(ws, 'real/new.txt'))
  assert.equal(await confine(ws, 'dangling-inside'), join(ws, 'real/later.txt'))
})

test('confine refuses .., absolute paths elsewhere and symlinks that lead out, with 403', async (t) => {
  const { ws, outside } = escapeFixture(t)
  for (const requested of [
    '../x',
    'a/../../x',
    '/etc/passwd',
    join(outside, 'secret.txt'),
    'secret-link.txt',
    'outdir',
    'outdir/secret.txt',
    'outdir/new/file.txt',
    'dangling.txt',
  ]) {
    await rejectsWith(confine(ws, requested), 'path_outside_workspace', (error) =>
      assert.equal(error.status, 403),
    )
  }
  await rejectsWith(confine(ws, ''), 'invalid_input')
  await rejectsWith(confine(join(ws, 'missing'), 'x'), 'not_found')
})

// --------------------------------------------------------------------------------- escapes, every tool

test('every tool that takes a path refuses paths outside the workspace and touches nothing there', async (t) => {
  const { ws, outside } = escapeFixture(t)
  const escapes = [
    '../escape.txt',
    '/etc/passwd',
    join(outside, 'secret.txt'),
    'secret-link.txt',
    'outdir/secret.txt',
  ]
  for (const path of escapes) {
    const calls: [string, Record<string, unknown>][] = [
      ['read', { file_path: path }],
      ['write', { file_path: path, content: 'pwned' }],
      ['edit', { file_path: path, old_string: 'TOP', new_string: 'pwned' }],
      ['edit', { file_path: path, old_string: '', new_string: 'pwned' }],
      ['glob', { pattern: '*', path }],
      ['search', { pattern: 'SECRET', path }],
    ]
    for (const [name, input] of calls)
      await rejectsWith(runTool(name, ws, input), 'path_outside_workspace', (error) =>
        assert.equal(error.status, 403, `${name} ${path}`),
      )
  }
  // Writing through a symlinked parent folder or a dangling symlink that points outside.
  await rejectsWith(
    runTool('write', ws, { file_path: 'outdir/new.txt', content: 'x' }),
    'path_outside_workspace',
  )
  await rejectsWith(
    runTool('write', ws, { file_path: 'outdir/sub/new.txt', content: 'x' }),
    'path_outside_workspace',
  )
  await rejectsWith(
    runTool('write', ws, { file_path: 'dangling.txt', content: 'x' }),
    'path_outside_workspace',
  )
  await rejectsWith(
    runTool('edit', ws, { file_path: 'dangling.txt', old_string: '', new_string: 'x' }),
    'path_outside_workspace',
  )
  // Glob patterns that climb out.
  await rejectsWith(runTool('glob', ws, { pattern: '../*' }), 'path_outside_workspace')
  await rejectsWith(runTool('glob', ws, { pattern: `${outside}/*.txt` }), 'path_outside_workspace')
  await rejectsWith(runTool('glob', ws, { pattern: 'outdir/*.txt' }), 'path_outside_workspace')

  assert.deepEqual(readdirSync(outside), ['secret.txt'])
  assert.equal(readFileSync(join(outside, 'secret.txt'), 'utf8'), 'TOP SECRET\n')
  assert.equal(existsSync(join(dirname(ws), 'escape.txt')), false)
})

test('glob and search walks do not follow symlinks out of the workspace', async (t) => {
  const { ws } = escapeFixture(t)
  put(ws, { 'inside.txt': 'SECRET but mine\n' })
  symlinkSync(join(ws, 'inside.txt'), join(ws, 'inside-link.txt'))
  const globbed = await runTool('glob', ws, { pattern: '**/*' })
  assert.deepEqual(globbed.filenames.sort(), ['inside-link.txt', 'inside.txt', 'ok.txt'])
  const found = await search(ws, { pattern: 'SECRET' })
  assert.deepEqual(found.filenames.sort(), ['inside-link.txt', 'inside.txt'])
})

/** How long each race below swaps a folder for a symlink while calls go through it. */
const RACE_MS = 3_000

test('no folder swapped for a symlink during a call leads out: write, edit, read, search, upload (race)', async (t) => {
  const ws = tempDir(t)
  const outside = tempDir(t, 'ccgw-outside-')
  put(outside, { 'secret.txt': 'OUTSIDE SECRET\n' })
  put(ws, { 'd/secret.txt': 'inside\n' })
  const race = raceFolderWithSymlink(join(ws, 'd'), outside)
  /** Refusals and vanished paths are what a call may answer in the middle of a swap; nothing else. */
  const { leaks, unexpected, settle } = raceOutcomes(ToolError)
  let calls = 0
  try {
    const deadline = Date.now() + RACE_MS
    for (let i = 0; Date.now() < deadline; i++) {
      calls++
      await Promise.all([
        settle('write', () => runTool('write', ws, { file_path: `d/w${i}.txt`, content: 'x' })),
        settle('write into a new folder', () =>
          runTool('write', ws, { file_path: `d/f${i}/w.txt`, content: 'x' }),
        ),
        settle('edit', () =>
          runTool('edit', ws, { file_path: `d/e${i}.txt`, old_string: '', new_string: 'x' }),
        ),
        settle('edit of an existing file', () =>
          runTool('edit', ws, { file_path: 'd/secret.txt', old_string: 'SECRET', new_string: 'pwned' }),
        ),
        settle('read', () => runTool('read', ws, { file_path: 'd/secret.txt' })),
        settle('search', () => search(ws, { pattern: 'OUTSIDE', path: 'd', output_mode: 'content' })),
        settle('upload', async () => {
          const upload = await Upload.into(ws, `d/u${i}`, true)
          try {
            await upload.add('u.txt', Readable.from([Buffer.from('x')]))
            return await upload.commit()
          } catch (error) {
            await upload.discard()
            throw error
          }
        }),
      ])
    }
  } finally {
    const swaps = await race.stop()
    assert.ok(swaps > 10, `the folder was swapped ${swaps} times only`)
  }
  assert.ok(calls > 10, `only ${calls} rounds of calls`)
  assert.deepEqual(treeOf(outside), ['secret.txt'], 'nothing was created outside')
  assert.equal(readFileSync(join(outside, 'secret.txt'), 'utf8'), 'OUTSIDE SECRET\n')
  assert.deepEqual(leaks, [], 'no outside content was returned')
  assert.deepEqual(unexpected, [], 'every failure is a ToolError')
})

// ------------------------------------------------------------------------------------------------ read

test('read returns cat -n lines: number right-aligned to 6, a tab, the text', async (t) => {
  const ws = tempDir(t)
  put(ws, { 'a.txt': 'first\nsecond\r\n\nfourth\n' })
  const result = await runTool('read', ws, { file_path: 'a.txt' })
  assert.equal(result.content, '     1\tfirst\n     2\tsecond\n     3\t\n     4\tfourth')
  assert.equal(result.totalLines, 4)
  assert.equal(result.numLines, 4)
  assert.equal(result.startLine, 1)
  assert.equal(result.truncated, false)
  assert.equal(result.filePath, join(ws, 'a.txt'))
  assert.equal(result.relativePath, 'a.txt')
})

test('read takes a 1-based offset and a limit, and says when the file goes on', async (t) => {
  const ws = tempDir(t)
  put(ws, { 'n.txt': Array.from({ length: 10 }, (_, i) => `line ${i + 1}`).join('\n') })
  const result = await runTool('read', ws, { file_path: 'n.txt', offset: 3, limit: 2 })
  assert.equal(result.content, '     3\tline 3\n     4\tline 4')
  assert.equal(result.truncated, true)
  assert.equal(result.totalLines, 10)
  const tail = await runTool('read', ws, { file_path: 'n.txt', offset: 9 })
  assert.equal(tail.content, '     9\tline 9\n    10\tline 10')
  assert.equal(tail.truncated, false)
  const zero = await runTool('read', ws, { file_path: 'n.txt', offset: 0, limit: 1 })
  assert.equal(zero.content, '     1\tline 1')
  const past = await runTool('read', ws, { file_path: 'n.txt', offset: 50 })
  assert.deepEqual([past.content, past.numLines, past.totalLines], ['', 0, 10])
})

test('read returns 2000 lines by default and cuts lines longer than 2000 characters', async (t) => {
  const ws = tempDir(t)
  const lines = Array.from({ length: 2500 }, (_, i) => (i === 1 ? 'x'.repeat(2500) : `l${i + 1}`))
  put(ws, { 'big.txt': `${lines.join('\n')}\n` })
  const result = await runTool('read', ws, { file_path: 'big.txt' })
  const out = result.content.split('\n')
  assert.equal(out.length, 2000)
  assert.equal(out[1], `     2\t${'x'.repeat(2000)}`)
  assert.equal(out[1999], '  2000\tl2000')
  assert.equal(result.totalLines, 2500)
  assert.equal(result.truncatedLines, 1)
  assert.equal(result.truncated, true)
})

test('read of an empty file, a binary file, a folder, a missing file, a file over the cap', async (t) => {
  const ws = tempDir(t)
  put(ws, {
    'empty.txt': '',
    'bin.dat': Buffer.from([0x89, 0x50, 0x00, 0x01]),
    'dir/x': 'x',
    'big.txt': 'y'.repeat(100),
  })
  const empty = await runTool('read', ws, { file_path: 'empty.txt' })
  assert.deepEqual([empty.content, empty.totalLines, empty.truncated], ['', 0, false])
  await rejectsWith(runTool('read', ws, { file_path: 'bin.dat' }), 'invalid_input', (e) =>
    assert.match(e.message, /binary/),
  )
  await rejectsWith(runTool('read', ws, { file_path: 'dir' }), 'invalid_input')
  await rejectsWith(runTool('read', ws, { file_path: 'nope.txt' }), 'not_found', (e) =>
    assert.equal(e.status, 404),
  )
  await rejectsWith(runTool('read', ws, { file_path: 'big.txt' }, { maxFileBytes: 50 }), 'too_large', (e) => {
    assert.equal(e.status, 413)
    assert.deepEqual(e.details, { size: 100, limit: 50 })
  })
})

// ----------------------------------------------------------------------------------------------- write

test('write creates a file and its folders, then updates it, returning the content before', async (t) => {
  const ws = tempDir(t)
  const created = await runTool('write', ws, { file_path: 'deep/er/new.txt', content: 'one\n' })
  assert.deepEqual(created, {
    type: 'create',
    filePath: join(ws, 'deep/er/new.txt'),
    relativePath: 'deep/er/new.txt',
    originalFile: null,
  })
  assert.equal(readFileSync(join(ws, 'deep/er/new.txt'), 'utf8'), 'one\n')
  const updated = await runTool('write', ws, { file_path: join(ws, 'deep/er/new.txt'), content: 'two' })
  assert.equal(updated.type, 'update')
  assert.equal(updated.originalFile, 'one\n')
  assert.equal(readFileSync(join(ws, 'deep/er/new.txt'), 'utf8'), 'two')
})

test('write refuses a folder, content over the cap, and does not return a binary original', async (t) => {
  const ws = tempDir(t)
  put(ws, { 'dir/x': 'x', 'bin.dat': Buffer.from([0, 1, 2]) })
  await rejectsWith(runTool('write', ws, { file_path: 'dir', content: 'x' }), 'invalid_input')
  await rejectsWith(
    runTool('write', ws, { file_path: 'f.txt', content: 'x'.repeat(20) }, { writeMaxBytes: 10 }),
    'too_large',
  )
  assert.equal(existsSync(join(ws, 'f.txt')), false)
  await rejectsWith(
    runTool('write', ws, { file_path: 'dir/x/under-a-file.txt', content: 'x' }),
    'invalid_input',
  )
  const overBinary = await runTool('write', ws, { file_path: 'bin.dat', content: 'text now' })
  assert.deepEqual(
    [overBinary.type, overBinary.originalFile, overBinary.originalOmitted],
    ['update', null, true],
  )
})

// ------------------------------------------------------------------------------------------------ edit

test('edit replaces a unique occurrence exactly', async (t) => {
  const ws = tempDir(t)
  put(ws, { 'a.ts': 'const a = 1\nconst b = 2\n' })
  const result = await runTool('edit', ws, {
    file_path: 'a.ts',
    old_string: 'b = 2',
    new_string: 'b = $& + 3',
  })
  assert.deepEqual(result, {
    type: 'update',
    filePath: join(ws, 'a.ts'),
    relativePath: 'a.ts',
    originalFile: 'const a = 1\nconst b = 2\n',
    updatedFile: 'const a = 1\nconst b = $& + 3\n',
    replacements: 1,
  })
  assert.equal(readFileSync(join(ws, 'a.ts'), 'utf8'), 'const a = 1\nconst b = $& + 3\n')
})

test('edit: not_unique with the count, no_match, replace_all, identical strings', async (t) => {
  const ws = tempDir(t)
  put(ws, { 'a.txt': 'foo bar foo baz foo\n' })
  await rejectsWith(
    runTool('edit', ws, { file_path: 'a.txt', old_string: 'foo', new_string: 'x' }),
    'not_unique',
    (e) => {
      assert.equal(e.status, 422)
      assert.equal(e.details?.count, 3)
      assert.match(e.message, /3 times/)
    },
  )
  await rejectsWith(
    runTool('edit', ws, { file_path: 'a.txt', old_string: 'qux', new_string: 'x' }),
    'no_match',
    (e) => assert.equal(e.status, 422),
  )
  await rejectsWith(
    runTool('edit', ws, { file_path: 'a.txt', old_string: 'foo', new_string: 'foo' }),
    'invalid_input',
  )
  assert.equal(readFileSync(join(ws, 'a.txt'), 'utf8'), 'foo bar foo baz foo\n')
  const all = await runTool('edit', ws, {
    file_path: 'a.txt',
    old_string: 'foo',
    new_string: 'x',
    replace_all: true,
  })
  assert.equal(all.replacements, 3)
  assert.equal(readFileSync(join(ws, 'a.txt'), 'utf8'), 'x bar x baz x\n')
  await rejectsWith(
    runTool('edit', ws, { file_path: 'nope.txt', old_string: 'a', new_string: 'b' }),
    'not_found',
  )
})

test('edit with an empty old_string creates a file, and refuses one that has content', async (t) => {
  const ws = tempDir(t)
  put(ws, { 'empty.txt': '', 'full.txt': 'content' })
  const created = await runTool('edit', ws, {
    file_path: 'new/file.md',
    old_string: '',
    new_string: '# Title\n',
  })
  assert.deepEqual([created.type, created.originalFile, created.updatedFile], ['create', null, '# Title\n'])
  assert.equal(readFileSync(join(ws, 'new/file.md'), 'utf8'), '# Title\n')
  const filled = await runTool('edit', ws, { file_path: 'empty.txt', old_string: '', new_string: 'now' })
  assert.deepEqual([filled.type, filled.originalFile], ['update', ''])
  await rejectsWith(
    runTool('edit', ws, { file_path: 'full.txt', old_string: '', new_string: 'x' }),
    'invalid_input',
  )
  assert.equal(readFileSync(join(ws, 'full.txt'), 'utf8'), 'content')
})

test('edit keeps CRLF line breaks, and deleting a line deletes its line break', async (t) => {
  const ws = tempDir(t)
  put(ws, { 'win.txt': 'one\r\ntwo\r\nthree\r\n', 'lines.txt': 'keep\ndrop me\nkeep too\n' })
  await runTool('edit', ws, { file_path: 'win.txt', old_string: 'one\ntwo', new_string: 'uno\ndos' })
  assert.equal(readFileSync(join(ws, 'win.txt'), 'utf8'), 'uno\r\ndos\r\nthree\r\n')
  await runTool('edit', ws, { file_path: 'lines.txt', old_string: 'drop me', new_string: '' })
  assert.equal(readFileSync(join(ws, 'lines.txt'), 'utf8'), 'keep\nkeep too\n')
})

// ------------------------------------------------------------------------------------------------ glob

test('glob returns workspace-relative paths, most recently modified first', async (t) => {
  const ws = tempDir(t)
  touch(ws, 'old.ts', 'src/mid.ts', 'src/deep/new.ts', 'src/readme.md', 'src/.hidden.ts')
  age(join(ws, 'old.ts'), 300)
  age(join(ws, 'src/mid.ts'), 200)
  age(join(ws, 'src/.hidden.ts'), 150)
  age(join(ws, 'src/deep/new.ts'), 100)
  const all = await runTool('glob', ws, { pattern: '**/*.ts' })
  assert.deepEqual(all.filenames, ['src/deep/new.ts', 'src/.hidden.ts', 'src/mid.ts', 'old.ts'])
  assert.deepEqual([all.numFiles, all.truncated], [4, false])
  age(join(ws, 'old.ts'), 10)
  assert.deepEqual((await runTool('glob', ws, { pattern: '**/*.ts' })).filenames[0], 'old.ts')
  // A pattern without ** stays at its depth; `path` sets where it applies.
  assert.deepEqual((await runTool('glob', ws, { pattern: '*.ts' })).filenames, ['old.ts'])
  assert.deepEqual((await runTool('glob', ws, { pattern: 'src/*.ts' })).filenames, [
    'src/.hidden.ts',
    'src/mid.ts',
  ])
  assert.deepEqual((await runTool('glob', ws, { pattern: '*.{md,ts}', path: 'src' })).filenames, [
    'src/readme.md',
    'src/.hidden.ts',
    'src/mid.ts',
  ])
  assert.deepEqual((await runTool('glob', ws, { pattern: 'src/readme.md' })).filenames, ['src/readme.md'])
  assert.deepEqual((await runTool('glob', ws, { pattern: `${ws}/src/deep/*.ts` })).filenames, [
    'src/deep/new.ts',
  ])
  assert.deepEqual((await runTool('glob', ws, { pattern: 'nowhere/**/*.ts' })).filenames, [])
})

test('glob skips .git, keeps gitignored files, caps its results and checks its path', async (t) => {
  const ws = tempDir(t)
  put(ws, { '.gitignore': 'node_modules/\n' })
  touch(ws, '.git/config', '.git/hooks/pre-commit.js', 'node_modules/pkg/index.js', 'a.js', 'b.js', 'c.js')
  const found = await runTool('glob', ws, { pattern: '**/*.js' })
  assert.deepEqual(found.filenames.sort(), ['a.js', 'b.js', 'c.js', 'node_modules/pkg/index.js'])
  const capped = await runTool('glob', ws, { pattern: '**/*.js' }, { globMaxResults: 2 })
  assert.deepEqual([capped.numFiles, capped.truncated], [2, true])
  const walkCapped = await runTool('glob', ws, { pattern: '**/*.js' }, { walkMaxEntries: 2 })
  assert.equal(walkCapped.truncated, true)
  await rejectsWith(runTool('glob', ws, { pattern: '*', path: 'a.js' }), 'invalid_input')
  await rejectsWith(runTool('glob', ws, { pattern: '*', path: 'missing' }), 'not_found')
})

// ---------------------------------------------------------------------------------------------- search

function searchFixture(t: TestContext): string {
  const ws = tempDir(t)
  put(ws, {
    '.gitignore': 'dist/\n*.log\n!keep.log\n',
    'src/app.ts': 'import x from "y"\nfunction handler() {\n  return TODO_ITEM\n}\n',
    'src/util.ts': 'export const a = 1\n// todo_item: lower case\nexport const b = 2\n',
    'src/app.test.ts': 'test("TODO_ITEM")\n',
    'lib/tool.py': 'def f():\n    return "TODO_ITEM"\n',
    'lib/.gitignore': 'generated.py\n',
    'lib/generated.py': 'TODO_ITEM\n',
    'lib/trace.log': 'TODO_ITEM\n',
    'dist/bundle.js': 'TODO_ITEM\n',
    'debug.log': 'TODO_ITEM\n',
    'keep.log': 'TODO_ITEM\n',
    '.hidden/conf.ts': 'TODO_ITEM\n',
    '.git/HEAD': 'TODO_ITEM\n',
    'image.png': Buffer.concat([Buffer.from('TODO_ITEM'), Buffer.from([0, 1, 2])]),
  })
  const order = ['src/app.ts', 'src/util.ts', 'src/app.test.ts', 'lib/tool.py', 'keep.log', '.hidden/conf.ts']
  for (const [i, file] of order.entries()) age(join(ws, file), 100 + i * 10)
  return ws
}

test('search lists matching files, newest first, respecting .gitignore and skipping .git and binaries', async (t) => {
  const ws = searchFixture(t)
  const result = await search(ws, { pattern: 'TODO_ITEM' })
  assert.equal(result.mode, 'files_with_matches')
  assert.deepEqual(result.filenames, [
    'src/app.ts',
    'src/app.test.ts',
    'lib/tool.py',
    'keep.log',
    '.hidden/conf.ts',
  ])
  assert.equal(result.numFiles, 5)
  assert.equal(result.truncated, false)
  // A nested .gitignore applies below its folder; the root's applies to a search that starts lower.
  assert.deepEqual((await search(ws, { pattern: 'TODO_ITEM', path: 'lib' })).filenames, ['lib/tool.py'])
  const inSrc = await search(ws, { pattern: 'TODO_ITEM', path: 'src' })
  assert.deepEqual(inSrc.filenames, ['src/app.ts', 'src/app.test.ts'])
  const ignoreCase = await search(ws, { pattern: 'todo_item', '-i': true, path: 'src' })
  assert.deepEqual(ignoreCase.filenames, ['src/app.ts', 'src/util.ts', 'src/app.test.ts'])
  // An explicit file is searched whatever .gitignore says.
  assert.deepEqual((await search(ws, { pattern: 'TODO', path: 'dist/bundle.js' })).filenames, [
    'dist/bundle.js',
  ])
})

test('search filters files by glob and by type', async (t) => {
  const ws = searchFixture(t)
  const names = async (input: Partial<SearchInputType>) =>
    (await search(ws, { pattern: 'TODO_ITEM', ...input })).filenames.sort()
  assert.deepEqual(await names({ glob: '*.ts' }), ['.hidden/conf.ts', 'src/app.test.ts', 'src/app.ts'])
  assert.deepEqual(await names({ glob: '*.ts !*.test.ts' }), ['.hidden/conf.ts', 'src/app.ts'])
  assert.deepEqual(await names({ glob: 'src/*.{ts,py}' }), ['src/app.test.ts', 'src/app.ts'])
  assert.deepEqual(await names({ glob: '*.py,*.log' }), ['keep.log', 'lib/tool.py'])
  assert.deepEqual(await names({ type: 'py' }), ['lib/tool.py'])
  assert.deepEqual(await names({ type: 'ts', path: 'src' }), ['src/app.test.ts', 'src/app.ts'])
  assert.deepEqual(await names({ type: 'log' }), ['keep.log'])
})

test('search content mode: path:line:text, context lines and group separators', async (t) => {
  const ws = tempDir(t)
  put(ws, { 'f.txt': 'a\nmatch 1\nb\nc\nd\ne\nmatch 2\nf\n', 'g.txt': 'match 3\n' })
  age(join(ws, 'g.txt'), 100)
  const plain = await search(ws, { pattern: 'match \\d', output_mode: 'content' })
  assert.equal(plain.content, 'f.txt:2:match 1\nf.txt:7:match 2\ng.txt:1:match 3')
  assert.deepEqual([plain.numLines, plain.filenames], [3, ['f.txt', 'g.txt']])
  const noNumbers = await search(ws, { pattern: 'match 3', output_mode: 'content', '-n': false })
  assert.equal(noNumbers.content, 'g.txt:match 3')
  const context = await search(ws, { pattern: 'match [12]', output_mode: 'content', '-C': 1 })
  assert.equal(
    context.content,
    'f.txt-1-a\nf.txt:2:match 1\nf.txt-3-b\n--\nf.txt-6-e\nf.txt:7:match 2\nf.txt-8-f',
  )
  const afterOnly = await search(ws, { pattern: 'match', output_mode: 'content', '-A': 3, '-B': 0 })
  assert.equal(
    afterOnly.content,
    'f.txt:2:match 1\nf.txt-3-b\nf.txt-4-c\nf.txt-5-d\n--\nf.txt:7:match 2\nf.txt-8-f\n--\ng.txt:1:match 3',
  )
})

test('search count mode, multiline, head_limit and offset', async (t) => {
  const ws = tempDir(t)
  put(ws, { 'a.txt': 'x\nx\ny\nx\n', 'b.txt': 'x\n', 'm.ts': 'function f(\n  a,\n  b\n) {}\n' })
  const counts = await search(ws, { pattern: 'x', output_mode: 'count' })
  assert.equal(counts.content, 'a.txt:3\nb.txt:1')
  assert.equal(counts.numMatches, 4)
  const spanning = await search(ws, { pattern: 'f\\(.*?\\)', multiline: true, output_mode: 'content' })
  assert.equal(spanning.content, 'm.ts:1:function f(\nm.ts:2:  a,\nm.ts:3:  b\nm.ts:4:) {}')
  assert.equal((await search(ws, { pattern: 'f\\(.*?\\)' })).numFiles, 0)
  const page = await search(ws, { pattern: 'x', output_mode: 'content', head_limit: 2, offset: 1 })
  assert.equal(page.content, 'a.txt:2:x\na.txt:4:x')
  assert.deepEqual([page.truncated, page.appliedLimit, page.appliedOffset], [true, 2, 1])
  const files = await search(ws, { pattern: 'x', head_limit: 1 })
  assert.deepEqual([files.numFiles, files.truncated], [1, true])
  const capped = await search(
    ws,
    { pattern: 'x', output_mode: 'content', head_limit: 0 },
    { searchMaxResults: 3 },
  )
  assert.deepEqual([capped.numLines, capped.appliedLimit, capped.truncated], [3, 3, true])
  await rejectsWith(search(ws, { pattern: '(unclosed' }), 'invalid_input', (e) =>
    assert.equal(e.details?.field, 'pattern'),
  )
  const inline = await search(ws, { pattern: '(?i)X', output_mode: 'count' })
  assert.equal(inline.numMatches, 4)
})

test('search cuts long output lines and stops at its byte cap', async (t) => {
  const ws = tempDir(t)
  put(ws, { 'long.txt': `${'z'.repeat(600)}\n`, 'b.txt': 'z\n' })
  const long = await search(ws, { pattern: 'z', output_mode: 'content', path: 'long.txt' })
  assert.equal(long.content, `long.txt:1:${'z'.repeat(500)} [... 100 more characters]`)
  const capped = await search(ws, { pattern: 'z' }, { searchMaxTotalBytes: 100 })
  assert.equal(capped.truncated, true)
  assert.deepEqual(capped.filenames, ['b.txt'])
})

test('search runs in a worker thread through runTool, and a runaway regex times out there', async (t) => {
  const ws = searchFixture(t)
  const result = await runTool('search', ws, { pattern: 'TODO_ITEM', glob: '*.py' })
  assert.deepEqual(result.filenames, ['lib/tool.py'])
  await rejectsWith(runTool('search', ws, { pattern: '(', path: 'src' }), 'invalid_input')
  await rejectsWith(runTool('search', ws, { pattern: 'x', path: '../' }), 'path_outside_workspace')
  put(ws, { 'redos.txt': `${'a'.repeat(40)}!\n` })
  const started = Date.now()
  await rejectsWith(
    runTool('search', ws, { pattern: '(a+)+$', path: 'redos.txt' }, { searchTimeoutMs: 300 }),
    'timeout',
  )
  assert.ok(Date.now() - started < 5000, 'the worker was stopped')
})

// ------------------------------------------------------------------------------------------------ bash

/** Live (non-zombie) processes in process group `pgid`, from /proc. */
function groupMembers(pgid: number): number[] {
  const members: number[] = []
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8')
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      if (Number(fields[2]) === pgid && fields[0] !== 'Z') members.push(Number(entry))
    } catch {
      // gone meanwhile
    }
  }
  return members
}

const groupGone = (pgid: number) =>
  waitUntil(() => groupMembers(pgid).length === 0, 5000, `group ${pgid} gone`)

test('bash runs the command in the workspace and returns stdout, stderr and the exit code', async (t) => {
  const ws = tempDir(t)
  const result = await runTool('bash', ws, { command: 'pwd; echo oops >&2; exit 3' })
  assert.equal(result.stdout, `${ws}\n`)
  assert.equal(result.stderr, 'oops\n')
  assert.deepEqual(
    [result.exitCode, result.signal, result.timedOut, result.truncated],
    [3, null, false, false],
  )
  assert.ok(result.durationMs >= 0)
  const killed = await runTool('bash', ws, { command: 'kill -KILL $$' })
  assert.deepEqual([killed.exitCode, killed.signal], [null, 'SIGKILL'])
})

test('bash timeout kills the whole process group, background jobs included', async (t) => {
  const ws = tempDir(t)
  const started = Date.now()
  const result = await runTool('bash', ws, {
    command: 'echo $$ > pgid; sleep 30 & sleep 30; wait',
    timeout: 500,
  })
  assert.equal(result.timedOut, true)
  assert.equal(result.signal, 'SIGTERM')
  assert.ok(Date.now() - started < 5000)
  await groupGone(Number(readFileSync(join(ws, 'pgid'), 'utf8')))
})

test('bash timeout: SIGKILL after the grace for processes that ignore SIGTERM', async (t) => {
  const ws = tempDir(t)
  const started = Date.now()
  const result = await runTool(
    'bash',
    ws,
    { command: "trap '' TERM; echo $$ > pgid; sleep 30 & sleep 30; wait", timeout: 300 },
    { bashKillGraceMs: 300 },
  )
  assert.equal(result.timedOut, true)
  assert.equal(result.signal, 'SIGKILL')
  const took = Date.now() - started
  assert.ok(took >= 550 && took < 5000, `took ${took} ms`)
  await groupGone(Number(readFileSync(join(ws, 'pgid'), 'utf8')))
})

test('bash: background processes still running when the command ends are killed', async (t) => {
  const ws = tempDir(t)
  const started = Date.now()
  const result = await runTool('bash', ws, { command: 'echo $$ > pgid; sleep 30 & echo started' })
  assert.deepEqual([result.stdout, result.exitCode, result.timedOut], ['started\n', 0, false])
  assert.ok(Date.now() - started < 5000)
  await groupGone(Number(readFileSync(join(ws, 'pgid'), 'utf8')))
})

test('bash caps each output stream and says so', async (t) => {
  const ws = tempDir(t)
  const result = await runTool('bash', ws, {
    command: "head -c 100000 /dev/zero | tr '\\0' a; echo -n bb >&2",
  })
  assert.equal(result.stdout, 'a'.repeat(30_000))
  assert.equal(result.stderr, 'bb')
  assert.equal(result.truncated, true)
  const small = await runTool('bash', ws, { command: 'seq 1 100' }, { bashMaxOutputChars: 10 })
  assert.deepEqual([small.stdout, small.truncated], ['1\n2\n3\n4\n5\n', true])
})

test('bash: an abort kills the command; timeouts past the maximum are refused', async (t) => {
  const ws = tempDir(t)
  const controller = new AbortController()
  setTimeout(() => controller.abort(), 200)
  const result = await runTool('bash', ws, { command: 'sleep 30' }, {}, { signal: controller.signal })
  assert.deepEqual([result.aborted, result.timedOut, result.signal], [true, false, 'SIGTERM'])
  await rejectsWith(runTool('bash', ws, { command: 'true', timeout: 700_000 }), 'invalid_input', (e) =>
    assert.equal(e.details?.field, 'timeout'),
  )
  await rejectsWith(
    runTool('bash', ws, { command: 'true', timeout: 5000 }, { bashMaxTimeoutMs: 1000 }),
    'invalid_input',
  )
})

test("bash does not pass the gateway's secrets to commands", async (t) => {
  const ws = tempDir(t)
  for (const name of [
    'ANTHROPIC_API_KEY',
    'CCGW_SERVER_APIKEYS',
    'GITHUB_TOKEN',
    'DB_PASSWORD',
    'AWS_SECRET_ACCESS_KEY',
    'CLAUDE_CODE_OAUTH_TOKEN',
  ])
    assert.equal(isSecretVariable(name), true, name)
  for (const name of ['PATH', 'HOME', 'LANG', 'USER', 'SHELL', 'TERM', 'TMPDIR', 'NODE_ENV'])
    assert.equal(isSecretVariable(name), false, name)
  const env = bashEnvironment(
    { PATH: '/usr/bin:/bin', HOME: '/home/x', LANG: 'C.UTF-8', ANTHROPIC_API_KEY: 'sk-1' },
    { EXTRA: '1' },
  )
  assert.deepEqual(env, { PATH: '/usr/bin:/bin', HOME: '/home/x', LANG: 'C.UTF-8', EXTRA: '1' })

  process.env.CCGW_TEST_SECRET_KEY = 'do-not-leak'
  t.after(() => delete process.env.CCGW_TEST_SECRET_KEY)
  const result = await runTool('bash', ws, {
    command: 'echo "[$CCGW_TEST_SECRET_KEY]"; test -n "$PATH" && echo path',
  })
  assert.equal(result.stdout, '[]\npath\n')
  const custom = await runTool(
    'bash',
    ws,
    { command: 'echo "$ONLY"' },
    {},
    { env: { PATH: process.env.PATH, ONLY: 'me' } },
  )
  assert.equal(custom.stdout, 'me\n')
})

// ------------------------------------------------------------------------------------------ the registry

test('runTool validates input against the schema and names the field', async (t) => {
  const ws = tempDir(t)
  await rejectsWith(runTool('nope', ws, {}), 'not_found')
  await rejectsWith(runTool('read', ws, {}), 'invalid_input', (e) => {
    assert.equal(e.details?.field, 'file_path')
    assert.match(e.message, /file_path is required/)
  })
  await rejectsWith(runTool('read', ws, { file_path: 'a', bogus: 1 }), 'invalid_input', (e) =>
    assert.equal(e.details?.field, 'bogus'),
  )
  await rejectsWith(runTool('read', ws, { file_path: 'a', offset: 'x' }), 'invalid_input', (e) =>
    assert.equal(e.details?.field, 'offset'),
  )
  await rejectsWith(runTool('search', ws, { pattern: 'a', output_mode: 'lines' }), 'invalid_input', (e) =>
    assert.match(e.message, /output_mode must be one of: files_with_matches, content, count/),
  )
  await rejectsWith(runTool('write', ws, { file_path: 'a' }), 'invalid_input', (e) =>
    assert.equal(e.details?.field, 'content'),
  )
  await rejectsWith(runTool('bash', ws, 'ls'), 'invalid_input')
  await rejectsWith(runTool('read', join(ws, 'no-such-workspace'), { file_path: 'a' }), 'not_found')
})

test('describeTools documents the six tools with their JSON schemas', () => {
  const tools = describeTools()
  assert.deepEqual(
    tools.map((tool) => tool.name),
    [...TOOL_NAMES],
  )
  assert.deepEqual(
    tools.map((tool) => tool.claudeCodeName),
    ['Read', 'Write', 'Edit', 'Glob', 'Grep', 'Bash'],
  )
  for (const tool of tools) {
    assert.equal(tool.inputSchema.type, 'object')
    assert.ok(tool.description.length > 50)
    assert.equal(JSON.parse(JSON.stringify(tool.inputSchema)).additionalProperties, false)
  }
})
