/**
 * The published package: `npm pack`'s tarball holds the built gateway and its admin UI and no tests,
 * installs in a clean folder without an EBADENGINE warning, and runs from there: `npx claude-code-gateway
 * --help`, then the bin as a process manager starts it, answering /v1/health and /admin/ and stopping on
 * SIGTERM with exit code 0. And the dependency tree this repository installs needs no newer Node than
 * `engines` allows.
 *
 * Installed from npm's cache (`--offline`); when the cache lacks something and the registry cannot be
 * reached either, the install test is skipped, saying why (CI has the registry).
 */
import assert from 'node:assert/strict'
import { execFile, spawn } from 'node:child_process'
import { once } from 'node:events'
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { promisify } from 'node:util'
import { waitUntil } from '../support/wait.js'

const ROOT = new URL('../..', import.meta.url).pathname
const run = promisify(execFile)
const NPM_ENV = {
  ...process.env,
  npm_config_audit: 'false',
  npm_config_fund: 'false',
  npm_config_update_notifier: 'false',
}

interface PackedFile {
  path: string
}

describe('npm package', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ccgw-package-'))
  let tarball = ''
  let files: string[] = []
  after(() => rmSync(dir, { recursive: true, force: true }))

  before(async () => {
    for (const built of ['dist/cli.js', 'dist/admin/index.html'])
      assert.ok(existsSync(join(ROOT, built)), `${built} exists (npm test builds it first; or npm run build)`)
    // Packs the build as it is: `prepare` would build it again (npm test has just done so).
    const { stdout } = await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], {
      cwd: ROOT,
      env: NPM_ENV,
      maxBuffer: 16 * 1024 * 1024,
    })
    const [packed] = JSON.parse(stdout) as { filename: string; files: PackedFile[] }[]
    assert.ok(packed)
    tarball = join(dir, packed.filename)
    files = packed.files.map((file) => file.path)
  })

  test('the tarball holds the command, the library entry and the admin UI, and no tests', () => {
    for (const path of [
      'dist/cli.js',
      'dist/server.js',
      'dist/admin/index.html',
      'package.json',
      'README.md',
    ])
      assert.ok(files.includes(path), `${path} is packed`)
    assert.ok(
      files.some((path) => path.startsWith('dist/admin/assets/')),
      'the admin assets are packed',
    )
    const tests = files.filter((path) => /(^|\/)(test|bench)\/|\.test\.[cm]?[jt]s$/.test(path))
    assert.deepEqual(tests, [])
    assert.ok(!files.some((path) => path.startsWith('src/') || path.startsWith('web/')), 'no sources')
  })

  test('installed in a clean folder it runs: npx --help, then a start, /v1/health, /admin/, a stop', async (t) => {
    const app = join(dir, 'app')
    mkdirSync(app)
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'ccgw-package-test', private: true }))
    // Install scripts are skipped: the only one, better-sqlite3's, compiles SQLite when no prebuilt binary can
    // be downloaded (minutes). Its addon, built for this Node on this machine, is taken from this repository.
    const installed = await install(app, tarball)
    if ('skip' in installed) {
      t.skip(installed.skip)
      return
    }
    // What a user installs needs no newer Node than engines allows: @fastify/static and light-my-request are
    // pinned to releases whose dependencies support Node 20 (docs/operations.md, "Upgrading").
    assert.doesNotMatch(installed.output, /EBADENGINE/, installed.output)
    const addon = 'node_modules/better-sqlite3/build/Release/better_sqlite3.node'
    mkdirSync(dirname(join(app, addon)), { recursive: true })
    copyFileSync(join(ROOT, addon), join(app, addon))

    const env = { PATH: `${dirname(process.execPath)}:${process.env.PATH}`, HOME: join(dir, 'home') }
    mkdirSync(env.HOME)
    const help = await run('npx', ['--offline', 'claude-code-gateway', '--help'], { cwd: app, env })
    assert.match(help.stdout, /^Usage: claude-code-gateway/)

    // As a process manager runs it: the bin itself, not through npx, which does not pass a SIGTERM on.
    const gateway = spawn(join(app, 'node_modules/.bin/claude-code-gateway'), ['--port', '0'], {
      cwd: app,
      env: {
        ...env,
        CCGW_STORE_DATA_DIR: join(dir, 'data'),
        CCGW_POOL_WARM_SPARES: '0',
        CCGW_LOG_PRETTY: 'never',
        CCGW_CLAUDE_DEFAULT_WORKSPACE: env.HOME,
      },
    })
    try {
      let out = ''
      gateway.stdout.setEncoding('utf8').on('data', (chunk: string) => {
        out += chunk
      })
      const url = await waitUntil(() => / ready at (http:\/\/[^ ]+) /.exec(out)?.[1], 60_000, 'ready')
      const health = await fetch(`${url}/v1/health`)
      assert.equal(health.status, 200)
      assert.equal(((await health.json()) as { version: string }).version, packageVersion())
      const admin = await fetch(`${url}/admin/`)
      assert.equal(admin.status, 200)
      assert.match(await admin.text(), /<div id="root">|<script type="module"/)

      gateway.kill('SIGTERM')
      const [code] = await once(gateway, 'exit')
      assert.equal(code, 0)
      assert.match(out, /"msg":"stopped"/)
    } finally {
      gateway.kill('SIGKILL')
    }
  })

  test('npm ci installs no package that needs a newer Node than engines, which still admits Node 20', async () => {
    const { stdout, stderr } = await run('npm', ['ci', '--dry-run', '--offline', '--ignore-scripts'], {
      cwd: ROOT,
      env: NPM_ENV,
      maxBuffer: 16 * 1024 * 1024,
    })
    assert.doesNotMatch(stdout + stderr, /EBADENGINE/)
    // Agreement is not reached by raising engines past Node 20 (a 20.x minimum is allowed).
    assert.match(
      (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as PackageJson).engines.node,
      /^>=20(\.\d+){0,2}$/,
    )
  })
})

interface PackageJson {
  version: string
  engines: { node: string }
}

const packageVersion = () =>
  (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as PackageJson).version

/** `npm install` of the tarball from the cache, else from the registry (its output); `skip` says why neither could. */
async function install(app: string, tarball: string): Promise<{ skip: string } | { output: string }> {
  const args = ['install', '--ignore-scripts', tarball]
  try {
    const { stdout, stderr } = await run('npm', [...args, '--offline'], { cwd: app, env: NPM_ENV })
    return { output: stdout + stderr }
  } catch (offline) {
    if (!String((offline as { stderr?: string }).stderr).includes('ENOTCACHED')) throw offline
  }
  try {
    await run('npm', ['ping'], { cwd: app, env: NPM_ENV, timeout: 15_000 })
  } catch {
    return {
      skip: "needs the npm registry: npm's cache lacks some dependency and the registry is unreachable",
    }
  }
  const { stdout, stderr } = await run('npm', [...args, '--prefer-offline'], { cwd: app, env: NPM_ENV })
  return { output: stdout + stderr }
}
