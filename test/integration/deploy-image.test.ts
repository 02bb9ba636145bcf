/**
 * The container image's steps, without Docker: the build context (.dockerignore applied) is copied to a
 * clean folder, the runtime stage's steps run there (`npm ci --omit=dev --ignore-scripts`, the built dist/
 * and better-sqlite3's addon copied in from the build, here the repository's own), and the gateway starts
 * through the image's entrypoint and configuration as a non-root user (nobody, when the test runs as root)
 * with its own HOME and Claude config folder, against the scripted model. It must answer its health check,
 * take its API keys from a keys file, run a turn through Claude Code, write as that user, and stop with
 * exit code 0 on SIGTERM.
 */
import assert from 'node:assert/strict'
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process'
import {
  chmodSync,
  chownSync,
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { test } from 'node:test'
import { testHome } from '../support/harness.js'
import { freePort } from '../support/ports.js'
import { text } from '../support/scripted-anthropic.js'
import { waitUntil } from '../support/wait.js'
import { buildContext, ROOT } from './deploy-checks.js'

const NOBODY = 65534
const asRoot = process.getuid?.() === 0
const setpriv = spawnSync('setpriv', ['--version'], { stdio: 'ignore' }).status === 0
const skip = asRoot && !setpriv && 'running as root without setpriv: cannot switch to a non-root user'
if (skip) console.log(`# skipped: ${skip}`)

const exited = (child: ChildProcess) =>
  new Promise<{ code: number | null; signal: string | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  )

test('the runtime stage installs and starts as a non-root user', { skip, timeout: 150_000 }, async (t) => {
  assert.ok(existsSync(join(ROOT, 'dist/cli.js')), 'dist/cli.js is missing: run `npm run build` first')
  const home = await testHome()
  const root = mkdtempSync(join(tmpdir(), 'ccgw-image-'))
  let gateway: ChildProcess | undefined
  t.after(async () => {
    gateway?.kill('SIGKILL')
    rmSync(root, { recursive: true, force: true })
    await home.close()
  })
  // The image's filesystem: /app (read-only for the user), and the user's own folders.
  chmodSync(root, 0o755)
  const app = join(root, 'app')
  for (const file of buildContext()) {
    mkdirSync(dirname(join(app, file)), { recursive: true })
    copyFileSync(join(ROOT, file), join(app, file))
  }
  // RUN npm ci --omit=dev --ignore-scripts (from the local cache when it has everything).
  execFileSync(
    'npm',
    ['ci', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund', '--prefer-offline'],
    {
      cwd: app,
      stdio: 'ignore',
    },
  )
  assert.ok(!existsSync(join(app, 'node_modules/typescript')), 'no dev dependencies')
  // COPY --from=build: the native addon and dist/.
  const addon = 'node_modules/better-sqlite3/build/Release/better_sqlite3.node'
  mkdirSync(dirname(join(app, addon)), { recursive: true })
  copyFileSync(join(ROOT, addon), join(app, addon))
  cpSync(join(ROOT, 'dist'), join(app, 'dist'), { recursive: true })

  const user = join(root, 'home-gateway')
  const folders = {
    home: user,
    claude: join(user, '.claude'),
    data: join(root, 'data'),
    workspace: join(root, 'workspace'),
  }
  for (const folder of Object.values(folders)) {
    mkdirSync(folder, { recursive: true })
    if (asRoot) chownSync(folder, NOBODY, NOBODY)
  }
  const keys = join(root, 'ccgw_api_keys')
  writeFileSync(keys, '# rotated weekly\nfirst-key\nsecond-key\n', { mode: 0o444 })

  const port = await freePort()
  const url = `http://127.0.0.1:${port}`
  // The image's ENV and entrypoint; paths point at this folder instead of the image's.
  const env = {
    PATH: process.env.PATH,
    NODE_ENV: 'production',
    HOME: folders.home,
    CLAUDE_CONFIG_DIR: folders.claude,
    CCGW_CONFIG: join(app, 'deploy/docker/ccgw.config.yaml'),
    CCGW_PORT: String(port),
    CCGW_STORE_DATA_DIR: folders.data,
    CCGW_CLAUDE_DEFAULT_WORKSPACE: folders.workspace,
    CCGW_NATIVE_WORKSPACE_ROOTS: folders.workspace,
    GATEWAY_API_KEYS_FILE: keys,
    ANTHROPIC_BASE_URL: home.env.ANTHROPIC_BASE_URL,
    ANTHROPIC_API_KEY: home.env.ANTHROPIC_API_KEY,
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
  }
  const command = ['sh', join(app, 'deploy/docker/entrypoint.sh'), 'node', 'dist/cli.js']
  gateway = asRoot
    ? spawn('setpriv', [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', '--', ...command], {
        cwd: app,
        env,
      })
    : spawn(command[0]!, command.slice(1), { cwd: app, env })
  let output = ''
  gateway.stdout?.on('data', (chunk) => (output += chunk))
  gateway.stderr?.on('data', (chunk) => (output += chunk))
  const stopped = exited(gateway)

  // /livez once the health routes are in; /v1/health before them.
  const health = async () => {
    const live = await fetch(`${url}/livez`).catch(() => undefined)
    return live?.status === 404 ? fetch(`${url}/v1/health`) : live
  }
  await waitUntil(async () => (await health())?.status === 200, 30_000, 'the health check').catch(() => {
    assert.fail(`the gateway did not answer its health check:\n${output}`)
  })

  assert.equal((await fetch(`${url}/metrics`)).status, 401, 'keys are on')
  const scraped = await fetch(`${url}/metrics`, { headers: { authorization: 'Bearer second-key' } })
  assert.equal(scraped.status, 200, 'every key of the keys file works')

  home.model.script(text('Hello from the image.'))
  const answer = await fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: 'Bearer first-key', 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'claude-code', messages: [{ role: 'user', content: 'Hi' }] }),
  })
  const body = (await answer.json()) as { choices?: { message: { content: string } }[] }
  assert.equal(answer.status, 200, `${JSON.stringify(body)}\n${output}`)
  assert.equal(body.choices?.[0]?.message.content, 'Hello from the image.')

  const uid = asRoot ? NOBODY : process.getuid?.()
  for (const folder of [folders.data, folders.claude]) {
    const written = readdirSync(folder)
    assert.ok(written.length > 0, `${folder} written to`)
    for (const entry of written)
      assert.equal(statSync(join(folder, entry)).uid, uid, `${entry} owned by the user`)
  }

  gateway.kill('SIGTERM')
  const exit = await stopped
  assert.deepEqual(exit, { code: 0, signal: null }, output)
})
