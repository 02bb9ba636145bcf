/**
 * Files and project routes of the native API: uploads into a session's workspace (confined, bounded, all or
 * nothing, recorded as events), listings and downloads, `/init` through the real CLI, and moving a session
 * to another workspace with its conversation going on.
 */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { projectSlug } from '../../src/engine/claude-home.js'
import type { Gateway } from '../../src/gateway.js'
import { type TestHome, testConfig, testGateway, testHome } from '../support/harness.js'
import { type Json, nativeClient } from '../support/native-client.js'
import { conversationTexts, lastUserText, text, toolCall } from '../support/scripted-anthropic.js'
import { raceFolderWithSymlink, treeOf } from '../support/symlink-race.js'

const MAX_FILE_BYTES = 1024
const MAX_FILES = 3
const MAX_ENTRIES = 8
/** How long the race swaps a folder for a symlink while requests go through it. */
const RACE_MS = 4_000

describe('native API: files and project', () => {
  let home: TestHome
  let gateway: Gateway
  /** A folder outside every workspace (but under the allowed roots' parent), with a secret in it. */
  let outside: string

  before(async () => {
    home = await testHome()
    outside = join(home.root, 'outside')
    mkdirSync(outside)
    writeFileSync(join(outside, 'secret.txt'), 'secret\n')
    gateway = await testGateway(
      home,
      testConfig(home, {
        pool: { warmSpares: 0 },
        native: {
          workspaceRoots: [join(home.root, 'roots')],
          uploadMaxFileBytes: MAX_FILE_BYTES,
          uploadMaxFiles: MAX_FILES,
          filesListMaxEntries: MAX_ENTRIES,
        },
      }),
    )
  })
  after(async () => {
    await gateway.close()
    await home.close()
  })

  const { call } = nativeClient(() => gateway)

  /** A session in a fresh workspace of its own (real path). */
  const session = async (options: Json = {}) => {
    mkdirSync(join(home.root, 'roots'), { recursive: true })
    const workspace = realpathSync(mkdtempSync(join(home.root, 'roots', 'ws-')))
    const created = await call('POST', '/api/sessions', { workspace, ...options })
    assert.equal(created.status, 201, JSON.stringify(created.body))
    return { id: created.body.id as string, workspace }
  }

  /** Uploads a form: fields first (as given), then the files. */
  const upload = async (
    id: string,
    files: [name: string, content: string | Uint8Array][],
    fields: [name: string, value: string][] = [],
    fieldsAfter: [name: string, value: string][] = [],
  ) => {
    const form = new FormData()
    for (const [name, value] of fields) form.append(name, value)
    for (const [name, content] of files) form.append('files', new Blob([content]), name)
    for (const [name, value] of fieldsAfter) form.append(name, value)
    const response = await fetch(`${gateway.url}/api/sessions/${id}/files/upload`, {
      method: 'POST',
      body: form,
    })
    return { status: response.status, body: (await response.json()) as Json }
  }

  const errorOf = (body: Json) => body.error as { code: string; message: string; field?: string }
  const sha256 = (content: string | Uint8Array) => createHash('sha256').update(content).digest('hex')
  /** Every file and folder under `dir`, relative, sorted. */
  const tree = (dir: string): string[] =>
    readdirSync(dir, { recursive: true, encoding: 'utf8' })
      .map((path) => path.split('\\').join('/'))
      .sort()

  test('uploads one file, then several into a nested folder; the disk has them; events record them', async () => {
    const { id, workspace } = await session()
    const one = await upload(id, [['notes.txt', 'hello upload\n']])
    assert.equal(one.status, 201, JSON.stringify(one.body))
    assert.deepEqual(one.body, {
      path: '.',
      files: [{ path: 'notes.txt', size: 13, sha256: sha256('hello upload\n'), created: true }],
    })
    assert.equal(readFileSync(join(workspace, 'notes.txt'), 'utf8'), 'hello upload\n')

    const binary = Uint8Array.from({ length: 256 }, (_, i) => i)
    const several = await upload(
      id,
      [
        ['data.bin', binary],
        ['a.txt', 'alpha'],
        ['b.txt', ''],
      ],
      [['path', 'assets/img']],
    )
    assert.equal(several.status, 201, JSON.stringify(several.body))
    assert.equal(several.body.path, 'assets/img')
    assert.deepEqual(
      (several.body.files as Json[]).map((file) => [file.path, file.size, file.sha256]),
      [
        ['assets/img/data.bin', 256, sha256(binary)],
        ['assets/img/a.txt', 5, sha256('alpha')],
        ['assets/img/b.txt', 0, sha256('')],
      ],
    )
    assert.deepEqual(readFileSync(join(workspace, 'assets/img/data.bin')), Buffer.from(binary))
    assert.equal(readFileSync(join(workspace, 'assets/img/a.txt'), 'utf8'), 'alpha')
    assert.equal(readFileSync(join(workspace, 'assets/img/b.txt'), 'utf8'), '')
    assert.deepEqual(tree(workspace), [
      'assets',
      'assets/img',
      'assets/img/a.txt',
      'assets/img/b.txt',
      'assets/img/data.bin',
      'notes.txt',
    ])

    // Each upload is a direct `upload` call with a file change per file.
    const items = (await call('GET', `/api/sessions/${id}/history`)).body.items as Json[]
    assert.deepEqual(
      items.map((item) => item.type),
      [
        'tool_call',
        'tool_result',
        'file_change',
        'tool_call',
        'tool_result',
        'file_change',
        'file_change',
        'file_change',
      ],
    )
    const calls = items.filter((item) => item.type === 'tool_call')
    assert.deepEqual(
      calls.map((item) => [item.name, item.direct, item.input]),
      [
        ['upload', true, { path: '.', overwrite: false, files: ['notes.txt'] }],
        [
          'upload',
          true,
          {
            path: 'assets/img',
            overwrite: false,
            files: ['assets/img/data.bin', 'assets/img/a.txt', 'assets/img/b.txt'],
          },
        ],
      ],
    )
    assert.ok(items.filter((item) => item.type === 'tool_result').every((item) => item.is_error === false))
    const changes = items.filter((item) => item.type === 'file_change')
    assert.deepEqual(
      changes.map((item) => [item.path, item.kind]),
      [
        [join(workspace, 'notes.txt'), 'created'],
        [join(workspace, 'assets/img/data.bin'), 'created'],
        [join(workspace, 'assets/img/a.txt'), 'created'],
        [join(workspace, 'assets/img/b.txt'), 'created'],
      ],
    )
  })

  test('an existing file is replaced only with overwrite (409 without), keeping its permissions', async () => {
    const { id, workspace } = await session()
    writeFileSync(join(workspace, 'run.sh'), 'echo old\n')
    chmodSync(join(workspace, 'run.sh'), 0o750)

    const refused = await upload(id, [
      ['fresh.txt', 'fresh'],
      ['run.sh', 'echo new\n'],
    ])
    assert.equal(refused.status, 409, JSON.stringify(refused.body))
    assert.equal(errorOf(refused.body).code, 'already_exists')
    assert.equal(errorOf(refused.body).field, 'body.files')
    assert.match(errorOf(refused.body).message, /run\.sh exists already/)
    assert.equal(readFileSync(join(workspace, 'run.sh'), 'utf8'), 'echo old\n')
    // All or nothing: the file before the conflict is not kept either, nor any temporary file.
    assert.deepEqual(tree(workspace), ['run.sh'])

    const replaced = await upload(id, [['run.sh', 'echo new\n']], [['overwrite', 'true']])
    assert.equal(replaced.status, 201, JSON.stringify(replaced.body))
    assert.equal((replaced.body.files as Json[])[0]!.created, false)
    assert.equal(readFileSync(join(workspace, 'run.sh'), 'utf8'), 'echo new\n')
    assert.equal(statSync(join(workspace, 'run.sh')).mode & 0o777, 0o750)
    const items = (await call('GET', `/api/sessions/${id}/history`)).body.items as Json[]
    assert.deepEqual(
      items.filter((item) => item.type === 'file_change').map((item) => item.kind),
      ['modified'],
    )
  })

  test('limits: a file too large or too many files → 413, and nothing is left behind', async () => {
    const { id, workspace } = await session()
    const big = 'x'.repeat(MAX_FILE_BYTES + 1)
    const tooLarge = await upload(
      id,
      [
        ['small.txt', 'small'],
        ['big.txt', big],
      ],
      [['path', 'new/folder']],
    )
    assert.equal(tooLarge.status, 413, JSON.stringify(tooLarge.body))
    assert.equal(errorOf(tooLarge.body).code, 'payload_too_large')
    assert.match(
      errorOf(tooLarge.body).message,
      /big\.txt is larger than 1024 bytes \(native\.uploadMaxFileBytes\)/,
    )
    // Neither file, nor the folders made for them, nor a temporary file.
    assert.deepEqual(tree(workspace), [])

    const exactly = await upload(id, [['limit.txt', 'y'.repeat(MAX_FILE_BYTES)]])
    assert.equal(exactly.status, 201, JSON.stringify(exactly.body))

    const names = Array.from({ length: MAX_FILES + 1 }, (_, i) => `f${i}.txt`)
    const tooMany = await upload(
      id,
      names.map((name) => [name, name]),
    )
    assert.equal(tooMany.status, 413, JSON.stringify(tooMany.body))
    assert.equal(errorOf(tooMany.body).code, 'payload_too_large')
    assert.match(errorOf(tooMany.body).message, /at most 3 files \(native\.uploadMaxFiles\)/)
    assert.deepEqual(tree(workspace), ['limit.txt'])

    // The gateway stays usable after answering mid-upload.
    const after = await upload(id, [['after.txt', 'after']])
    assert.equal(after.status, 201)
  })

  test('upload forms are checked: fields first, known fields, a file, multipart', async () => {
    const { id, workspace } = await session()
    const late = await upload(id, [['a.txt', 'a']], [], [['path', 'sub']])
    assert.equal(late.status, 400)
    assert.equal(errorOf(late.body).field, 'body.path')
    assert.match(errorOf(late.body).message, /must come before the files/)
    const unknown = await upload(id, [['a.txt', 'a']], [['mode', 'x']])
    assert.equal(unknown.status, 400)
    assert.equal(errorOf(unknown.body).field, 'body.mode')
    const badFlag = await upload(id, [['a.txt', 'a']], [['overwrite', 'yes']])
    assert.equal(badFlag.status, 400)
    assert.equal(errorOf(badFlag.body).field, 'body.overwrite')
    const noFile = await upload(id, [], [['path', 'sub']])
    assert.equal(noFile.status, 400)
    assert.equal(errorOf(noFile.body).field, 'body.files')
    const twice = await upload(id, [
      ['a.txt', 'a'],
      ['a.txt', 'b'],
    ])
    assert.equal(twice.status, 400)
    assert.match(errorOf(twice.body).message, /a\.txt is uploaded twice/)
    const json = await call('POST', `/api/sessions/${id}/files/upload`, { files: [] })
    assert.equal(json.status, 415)
    assert.equal(errorOf(json.body).code, 'unsupported_media_type')
    const missing = await upload('no-such-session', [['a.txt', 'a']])
    assert.equal(missing.status, 404)
    assert.deepEqual(tree(workspace), [])
  })

  test('paths out of the workspace are refused: .., absolute, symlinks leading out', async () => {
    const { id, workspace } = await session()
    symlinkSync(outside, join(workspace, 'out'))
    symlinkSync(join(outside, 'secret.txt'), join(workspace, 'secret-link.txt'))
    for (const path of ['../', '../outside', outside, 'out', 'out/deeper']) {
      const refused = await upload(id, [['x.txt', 'x']], [['path', path]])
      assert.equal(refused.status, 403, `${path}: ${JSON.stringify(refused.body)}`)
      assert.equal(errorOf(refused.body).code, 'path_outside_workspace')
      assert.equal(errorOf(refused.body).field, 'body.path')
      const listed = await call('GET', `/api/sessions/${id}/files?path=${encodeURIComponent(path)}`)
      assert.equal(listed.status, 403, `${path}: ${JSON.stringify(listed.body)}`)
      assert.equal(errorOf(listed.body).field, 'querystring.path')
    }
    // A file name that is a symlink leading out is not written through.
    const throughLink = await upload(id, [['secret-link.txt', 'overwritten']], [['overwrite', 'true']])
    assert.equal(throughLink.status, 403, JSON.stringify(throughLink.body))
    assert.equal(errorOf(throughLink.body).field, 'body.files')
    // The client's own folders in a file name are dropped: the file lands in the upload's folder.
    const dotted = await upload(id, [['../../escape.txt', 'in']])
    assert.equal(dotted.status, 201, JSON.stringify(dotted.body))
    assert.equal((dotted.body.files as Json[])[0]!.path, 'escape.txt')
    for (const path of ['../outside/secret.txt', 'secret-link.txt', join(outside, 'secret.txt')]) {
      const read = await call('GET', `/api/sessions/${id}/files/content?path=${encodeURIComponent(path)}`)
      assert.equal(read.status, 403, path)
      assert.equal(errorOf(read.body).code, 'path_outside_workspace')
    }
    assert.equal(readFileSync(join(outside, 'secret.txt'), 'utf8'), 'secret\n')
    assert.deepEqual(readdirSync(outside), ['secret.txt'])
    assert.ok(!existsSync(join(home.root, 'escape.txt')))
  })

  test('a folder swapped for a symlink during requests leads nowhere out: tools, download, upload (race)', async () => {
    const { id, workspace } = await session()
    const elsewhere = mkdtempSync(join(home.root, 'elsewhere-'))
    writeFileSync(join(elsewhere, 'secret.txt'), 'OUTSIDE SECRET\n')
    mkdirSync(join(workspace, 'd'))
    writeFileSync(join(workspace, 'd', 'secret.txt'), 'inside\n')
    const race = raceFolderWithSymlink(join(workspace, 'd'), elsewhere)
    const answers = new Map<number, number>()
    const leaks: string[] = []
    const note = (what: string, status: number, body: string) => {
      answers.set(status, (answers.get(status) ?? 0) + 1)
      if (body.includes('OUTSIDE')) leaks.push(`${what} ${status}: ${body.slice(0, 200)}`)
    }
    try {
      const deadline = Date.now() + RACE_MS
      for (let i = 0; Date.now() < deadline; i++) {
        await Promise.all([
          call('POST', `/api/sessions/${id}/tools/write`, { file_path: `d/n${i}/w.txt`, content: 'x' }).then(
            (answer) => note('write', answer.status, answer.raw),
          ),
          call('POST', `/api/sessions/${id}/tools/read`, { file_path: 'd/secret.txt' }).then((answer) =>
            note('read', answer.status, answer.raw),
          ),
          call('GET', `/api/sessions/${id}/files/content?path=d/secret.txt`).then((answer) =>
            note('download', answer.status, answer.raw),
          ),
          upload(id, [['u.txt', 'x']], [['path', `d/u${i}`]]).then((answer) =>
            note('upload', answer.status, JSON.stringify(answer.body)),
          ),
        ])
      }
    } finally {
      await race.stop()
    }
    assert.deepEqual(treeOf(elsewhere), ['secret.txt'], 'nothing was created outside')
    assert.deepEqual(leaks, [], 'no outside content was returned')
    // Refusals and vanished paths in the middle of a swap; never a server error.
    for (const status of answers.keys()) assert.ok([200, 201, 400, 403, 404].includes(status), `${status}`)
    assert.ok((answers.get(200) ?? 0) > 0, 'calls between swaps succeed')
  })

  test('listing: a tree or a flat list with types, sizes and times; ignored files left out; capped', async () => {
    const { id, workspace } = await session()
    const write = (path: string, content: string) => {
      mkdirSync(join(workspace, path, '..'), { recursive: true })
      writeFileSync(join(workspace, path), content)
    }
    write('.gitignore', 'build/\n*.log\n')
    write('debug.log', 'ignored\n')
    write('build/out.js', 'ignored\n')
    write('src/main.txt', 'main\n')
    write('src/lib/util.txt', 'util!\n')
    write('.git/HEAD', 'ref: refs/heads/main\n')
    mkdirSync(join(workspace, 'empty'))
    symlinkSync('src/main.txt', join(workspace, 'main-link.txt'))
    symlinkSync(outside, join(workspace, 'out'))
    const when = new Date('2026-01-02T03:04:05.000Z')
    utimesSync(join(workspace, 'src/main.txt'), when, when)

    const top = await call('GET', `/api/sessions/${id}/files`)
    assert.equal(top.status, 200, JSON.stringify(top.body))
    assert.equal(top.body.path, '.')
    assert.equal(top.body.truncated, false)
    const entries = top.body.entries as Json[]
    assert.deepEqual(
      entries.map((entry) => [entry.name, entry.type]),
      [
        ['.gitignore', 'file'],
        ['empty', 'dir'],
        ['main-link.txt', 'symlink'],
        ['src', 'dir'],
      ],
    )
    const [gitignore, empty, link, src] = entries
    assert.equal(gitignore!.size, 'build/\n*.log\n'.length)
    assert.equal(gitignore!.modified_at, statSync(join(workspace, '.gitignore')).mtime.toISOString())
    assert.equal(empty!.size, null)
    assert.equal(link!.target, 'src/main.txt')
    assert.equal(link!.size, 5)
    assert.equal(link!.modified_at, when.toISOString())
    // One level: folders are not opened.
    assert.equal(src!.children, undefined)

    const deep = await call('GET', `/api/sessions/${id}/files?depth=3`)
    const [, emptyDeep, , srcDeep] = deep.body.entries as Json[]
    assert.deepEqual(emptyDeep!.children, [])
    const srcChildren = srcDeep!.children as Json[]
    assert.deepEqual(
      srcChildren.map((entry) => entry.path),
      ['src/lib', 'src/main.txt'],
    )
    assert.deepEqual(
      (srcChildren[0]!.children as Json[]).map((entry) => [entry.path, entry.size]),
      [['src/lib/util.txt', 6]],
    )

    const flat = await call('GET', `/api/sessions/${id}/files?depth=3&flat=true`)
    assert.deepEqual(
      (flat.body.entries as Json[]).map((entry) => entry.path),
      ['.gitignore', 'empty', 'main-link.txt', 'src', 'src/lib', 'src/lib/util.txt', 'src/main.txt'],
    )
    assert.ok((flat.body.entries as Json[]).every((entry) => entry.children === undefined))

    const everything = await call('GET', `/api/sessions/${id}/files?depth=2&flat=true&include_ignored=true`)
    const paths = (everything.body.entries as Json[]).map((entry) => entry.path)
    assert.ok(paths.includes('debug.log') && paths.includes('build/out.js'), paths.join())
    assert.ok(!paths.some((path) => String(path).startsWith('.git/') || path === '.git'), paths.join())

    const sub = await call('GET', `/api/sessions/${id}/files?path=src&depth=2`)
    assert.equal(sub.body.path, 'src')
    assert.deepEqual(
      (sub.body.entries as Json[]).map((entry) => [
        entry.path,
        (entry.children as Json[] | undefined)?.length,
      ]),
      [
        ['src/lib', 1],
        ['src/main.txt', undefined],
      ],
    )

    for (let i = 0; i < MAX_ENTRIES + 2; i++) write(`many/f${String(i).padStart(2, '0')}.txt`, `${i}`)
    const capped = await call('GET', `/api/sessions/${id}/files?path=many`)
    assert.equal(capped.body.truncated, true)
    assert.equal((capped.body.entries as Json[]).length, MAX_ENTRIES)
    const small = await call('GET', `/api/sessions/${id}/files?path=src&depth=5&flat=true`)
    assert.equal(small.body.truncated, false)

    const notDir = await call('GET', `/api/sessions/${id}/files?path=src/main.txt`)
    assert.equal(notDir.status, 400)
    assert.equal(errorOf(notDir.body).code, 'invalid_input')
    const gone = await call('GET', `/api/sessions/${id}/files?path=nope`)
    assert.equal(gone.status, 404)
    const badDepth = await call('GET', `/api/sessions/${id}/files?depth=0`)
    assert.equal(badDepth.status, 400)
    assert.equal(errorOf(badDepth.body).field, 'querystring.depth')
  })

  test('a file downloads as raw bytes with its content type', async () => {
    const { id, workspace } = await session()
    const binary = Uint8Array.from({ length: 300 }, (_, i) => (i * 7) % 256)
    writeFileSync(join(workspace, 'blob.bin'), binary)
    writeFileSync(join(workspace, 'notes.txt'), 'plain text\n')
    writeFileSync(join(workspace, 'page.html'), '<script>alert(1)</script>')

    const blob = await fetch(`${gateway.url}/api/sessions/${id}/files/content?path=blob.bin`)
    assert.equal(blob.status, 200)
    assert.equal(blob.headers.get('content-type'), 'application/octet-stream')
    assert.equal(blob.headers.get('content-length'), '300')
    assert.deepEqual(new Uint8Array(await blob.arrayBuffer()), binary)
    const notes = await fetch(
      `${gateway.url}/api/sessions/${id}/files/content?path=${encodeURIComponent(join(workspace, 'notes.txt'))}`,
    )
    assert.equal(notes.headers.get('content-type'), 'text/plain; charset=utf-8')
    assert.equal(await notes.text(), 'plain text\n')
    // A page of the workspace is a download, never rendered as the gateway's own.
    const page = await fetch(`${gateway.url}/api/sessions/${id}/files/content?path=page.html`)
    assert.equal(page.headers.get('content-disposition'), 'attachment; filename=page.html')
    assert.equal(page.headers.get('x-content-type-options'), 'nosniff')
    await page.body?.cancel()

    const folder = await call('GET', `/api/sessions/${id}/files/content?path=.`)
    assert.equal(folder.status, 400)
    assert.equal(errorOf(folder.body).field, 'querystring.path')
    assert.equal((await call('GET', `/api/sessions/${id}/files/content?path=missing.txt`)).status, 404)
    const noPath = await call('GET', `/api/sessions/${id}/files/content`)
    assert.equal(noPath.status, 400)
    assert.equal(errorOf(noPath.body).field, 'querystring.path')
  })

  test('project/init runs /init: the model writes CLAUDE.md, and the answer says so', async () => {
    const { id, workspace } = await session({ permission_mode: 'acceptEdits' })
    const memory = '# Project\n\nRun `npm test` before committing.\n'
    home.model.script(
      toolCall('Write', { file_path: join(workspace, 'CLAUDE.md'), content: memory }),
      text('I created CLAUDE.md.'),
    )
    const asked = home.model.turns.length
    const init = await call('POST', `/api/sessions/${id}/project/init`)
    assert.equal(init.status, 200, JSON.stringify(init.body))
    const turn = init.body.turn as Json
    assert.equal(turn.status, 'success')
    assert.equal(turn.text, 'I created CLAUDE.md.')
    assert.deepEqual(
      (turn.tool_calls as Json[]).map((call) => [call.name, call.status]),
      [['Write', 'succeeded']],
    )
    assert.deepEqual(init.body.claude_md, {
      path: join(workspace, 'CLAUDE.md'),
      exists: true,
      written: true,
      created: true,
      size: Buffer.byteLength(memory),
    })
    assert.equal(readFileSync(join(workspace, 'CLAUDE.md'), 'utf8'), memory)
    // What reached the model is Claude Code's /init prompt, not the text "/init".
    const prompt = lastUserText(home.model.turns[asked]!.body)
    assert.match(prompt, /create a CLAUDE\.md file/)

    // Nothing written this time: the answer says so.
    home.model.script(text('CLAUDE.md is fine as it is.'))
    const again = await call('POST', `/api/sessions/${id}/project/init`)
    assert.equal((again.body.claude_md as Json).written, false)
    assert.equal((again.body.claude_md as Json).exists, true)
    assert.equal((await call('POST', '/api/sessions/nope/project/init')).status, 404)
  })

  test('project/workspace moves the session: refused outside the roots; the conversation goes on', async () => {
    const { id, workspace } = await session()
    home.model.script(text('Noted: giraffe.'))
    const first = await call('POST', `/api/sessions/${id}/messages`, {
      content: 'Remember the word giraffe.',
    })
    assert.equal(first.body.status, 'success', JSON.stringify(first.body))
    const claudeSessionId = (await call('GET', `/api/sessions/${id}`)).body.claude_session_id as string
    assert.ok(claudeSessionId)

    const move = (target: string) =>
      call('PUT', `/api/sessions/${id}/project/workspace`, { workspace: target })
    writeFileSync(join(workspace, 'file.txt'), 'not a folder')
    for (const target of [outside, '/', join(home.root, 'roots', 'missing'), join(workspace, 'file.txt')]) {
      const refused = await move(target)
      assert.equal(refused.status, 400, `${target}: ${JSON.stringify(refused.body)}`)
      assert.equal(errorOf(refused.body).code, 'validation_error')
      assert.equal(errorOf(refused.body).field, 'body.workspace')
    }
    assert.equal((await call('PUT', `/api/sessions/${id}/project/workspace`, {})).status, 400)
    assert.equal((await call('GET', `/api/sessions/${id}`)).body.workspace, workspace)

    const target = realpathSync(mkdtempSync(join(home.root, 'roots', 'moved-')))
    const moved = await move(target)
    assert.equal(moved.status, 200, JSON.stringify(moved.body))
    assert.equal(moved.body.workspace, target)
    assert.equal(moved.body.claude_session_id, claudeSessionId)

    home.model.script(text('The word was giraffe.'))
    const second = await call('POST', `/api/sessions/${id}/messages`, { content: 'Which word?' })
    assert.equal(second.body.status, 'success', JSON.stringify(second.body))
    const request = home.model.turns.at(-1)!.body
    assert.deepEqual(
      conversationTexts(request).map((turn) => turn.text),
      ['Remember the word giraffe.', 'Noted: giraffe.', 'Which word?'],
    )
    // Claude Code runs in the new folder...
    assert.ok(JSON.stringify(request).includes(target), 'the new working directory reached the model')
    // ...and its transcript moved to that folder's project, where Claude Code looks first.
    const projects = join(home.env.CLAUDE_CONFIG_DIR!, 'projects')
    assert.ok(existsSync(join(projects, projectSlug(target), `${claudeSessionId}.jsonl`)))
    assert.ok(!existsSync(join(projects, projectSlug(workspace), `${claudeSessionId}.jsonl`)))
    assert.equal((await call('GET', `/api/sessions/${id}`)).body.claude_session_id, claudeSessionId)
  })

  test('the routes are in the OpenAPI document, with their parameters', async () => {
    const doc = (await call('GET', '/api/openapi.json')).body as {
      paths: Record<string, Record<string, Json>>
    }
    const operation = (path: string, method: string) => {
      const found = doc.paths[path]?.[method]
      assert.ok(found, `${method} ${path} is documented`)
      return found
    }
    const uploadBody = operation('/api/sessions/{id}/files/upload', 'post').requestBody as {
      content: Record<string, { schema: Json }>
    }
    const form = uploadBody.content['multipart/form-data']!.schema
    assert.deepEqual(Object.keys(form.properties as Json).sort(), ['files', 'overwrite', 'path'])
    const listParameters = operation('/api/sessions/{id}/files', 'get').parameters as Json[]
    assert.deepEqual(
      listParameters.filter((p) => p.in === 'query').map((p) => p.name),
      ['path', 'depth', 'flat', 'include_ignored'],
    )
    for (const [path, method] of [
      ['/api/sessions/{id}/files/upload', 'post'],
      ['/api/sessions/{id}/files', 'get'],
      ['/api/sessions/{id}/files/content', 'get'],
      ['/api/sessions/{id}/project/init', 'post'],
      ['/api/sessions/{id}/project/workspace', 'put'],
    ] as const) {
      const op = operation(path, method)
      assert.ok(op.summary && op.description, `${method} ${path} has a summary and a description`)
    }
  })
})
