/**
 * Confinement beyond the direct tools: the default workspace obeys the roots like a requested one (a gateway
 * started from `/` must not give sessions the whole file system), and memory files that are symlinks leading
 * out of their folder are neither read nor written.
 */
import assert from 'node:assert/strict'
import { mkdirSync, readFileSync, realpathSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { gatewayWithLog } from '../support/gateway-log.js'
import { withGateway, withHome } from '../support/harness.js'
import { expectError, type Json, nativeClient } from '../support/native-client.js'

/** `POST /api/sessions {}` refused because the default workspace is outside the roots: the error. */
async function defaultWorkspaceRefused(call: ReturnType<typeof nativeClient>['call']): Promise<Json> {
  return expectError(await call('POST', '/api/sessions', {}), 400, 'validation_error', 'body.workspace')
}

describe('the default workspace obeys the roots', () => {
  const h = withHome()

  test('started from / with no default workspace: POST /api/sessions {} is 400 naming the key, and a warning at start', async (t) => {
    const roots = join(h.home.root, 'roots')
    mkdirSync(join(roots, 'ws'), { recursive: true })
    const cwd = process.cwd()
    // As systemd starts a service: in /, with claude.defaultWorkspace unset.
    process.chdir('/')
    t.after(() => process.chdir(cwd))
    const { gateway, lines } = await gatewayWithLog(h.home, {
      pool: { warmSpares: 0 },
      claude: { defaultWorkspace: null },
      native: { workspaceRoots: [roots] },
    })
    try {
      const { call } = nativeClient(() => gateway)
      const error = await defaultWorkspaceRefused(call)
      assert.match(String(error.message), /default workspace '\/'/)
      assert.match(String(error.message), /claude\.defaultWorkspace/)
      assert.match(String(error.message), /native\.workspaceRoots/)
      // The same as naming it.
      expectError(
        await call('POST', '/api/sessions', { workspace: '/' }),
        400,
        'validation_error',
        'body.workspace',
      )
      // No session was made that could read the machine's files.
      assert.equal(((await call('GET', '/api/sessions')).body.items as Json[]).length, 0)
      // A workspace under the roots still works.
      const named = await call('POST', '/api/sessions', { workspace: join(roots, 'ws') })
      assert.equal(named.status, 201, named.raw)
      assert.equal(named.body.workspace, realpathSync(join(roots, 'ws')))

      const warning = lines.find(
        (line) => line.level === 40 && String(line.msg).includes('default workspace'),
      )
      assert.ok(warning, `a warning at start: ${JSON.stringify(lines.map((line) => line.msg))}`)
      assert.match(String(warning.msg), /native\.workspaceRoots/)
    } finally {
      await gateway.close()
    }
  })

  test('a configured default workspace outside the roots is refused on /api and /v1 (openai.workspaceRoots)', async () => {
    const roots = join(h.home.root, 'other-roots')
    mkdirSync(roots, { recursive: true })
    const { gateway, lines } = await gatewayWithLog(h.home, {
      pool: { warmSpares: 0 },
      native: { workspaceRoots: [roots] },
      openai: { workspaceRoots: [roots] },
    })
    try {
      const { call } = nativeClient(() => gateway)
      const error = await defaultWorkspaceRefused(call)
      assert.match(
        String(error.message),
        new RegExp(`default workspace '${h.home.workspace}' \\(claude\\.defaultWorkspace\\)`),
      )

      const chat = await fetch(`${gateway.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'claude-code', messages: [{ role: 'user', content: 'hi' }] }),
      })
      assert.equal(chat.status, 400)
      const body = (await chat.json()) as { error: { type: string; param: string; message: string } }
      assert.equal(body.error.type, 'invalid_request_error')
      assert.equal(body.error.param, 'workspace')
      assert.match(body.error.message, /openai\.workspaceRoots/)
      const warned = lines.filter(
        (line) => line.level === 40 && String(line.msg).includes('default workspace'),
      )
      assert.equal(warned.length, 2, 'one warning per API whose roots exclude it')
    } finally {
      await gateway.close()
    }
  })
})

describe('memory files that lead out of their folder', () => {
  const g = withGateway({ pool: { warmSpares: 0 } })
  const { call } = nativeClient(() => g.gateway)

  test('a CLAUDE.md symlinked outside the workspace is not read by GET …/memory, nor written by POST', async () => {
    const workspace = join(g.home.root, 'memory-ws')
    const outside = join(g.home.root, 'memory-outside')
    mkdirSync(workspace)
    mkdirSync(outside)
    writeFileSync(join(outside, 'secret.md'), 'OUTSIDE SECRET\n')
    symlinkSync(join(outside, 'secret.md'), join(workspace, 'CLAUDE.md'))
    // A link that stays inside its folder is still followed, as before.
    mkdirSync(join(workspace, 'docs'))
    writeFileSync(join(workspace, 'docs', 'local.md'), '- mine\n')
    symlinkSync(join(workspace, 'docs', 'local.md'), join(workspace, 'CLAUDE.local.md'))
    // The user memory, in Claude Code's config folder, leading out of it.
    const configDir = g.home.env.CLAUDE_CONFIG_DIR!
    mkdirSync(configDir, { recursive: true })
    symlinkSync(join(outside, 'secret.md'), join(configDir, 'CLAUDE.md'))

    const created = await call('POST', '/api/sessions', { workspace })
    assert.equal(created.status, 201, created.raw)
    const id = created.body.id as string

    const read = await call('GET', `/api/sessions/${id}/memory`)
    assert.equal(read.status, 200, read.raw)
    assert.ok(!read.raw.includes('OUTSIDE'), read.raw)
    const files = read.body.files as Json[]
    const [project, local, user] = files
    assert.equal(project!.content, null)
    assert.match(String(project!.error), /leads out of/)
    assert.equal(local!.content, '- mine\n')
    assert.equal(local!.error, undefined)
    assert.equal(user!.content, null)
    assert.match(String(user!.error), /leads out of/)

    for (const scope of ['project', 'user']) {
      for (const mode of ['add', 'replace']) {
        const written = await call('POST', `/api/sessions/${id}/memory`, { scope, mode, content: 'pwned' })
        expectError(written, 409, 'conflict')
        assert.ok(!written.raw.includes('OUTSIDE'), written.raw)
      }
    }
    assert.equal(readFileSync(join(outside, 'secret.md'), 'utf8'), 'OUTSIDE SECRET\n')
    const local2 = await call('POST', `/api/sessions/${id}/memory`, { scope: 'local', content: 'also mine' })
    assert.equal(local2.status, 200, local2.raw)
    assert.equal(readFileSync(join(workspace, 'docs', 'local.md'), 'utf8'), '- mine\n- also mine\n')
  })
})
