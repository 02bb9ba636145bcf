/**
 * Test harness: a scripted model, a private Claude Code home and either an engine or a whole gateway,
 * all on 127.0.0.1 and all stopped by `close()`. The CLI is the real one the SDK ships.
 */
import { randomUUID } from 'node:crypto'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before } from 'node:test'
import pino from 'pino'
import { type Config, loadConfig } from '../../src/config/index.js'
import { detectClaudeCli } from '../../src/engine/claude-cli.js'
import { type EngineLimits, SessionManager } from '../../src/engine/sessions.js'
import { EventBus } from '../../src/events/bus.js'
import type { GatewayEvent } from '../../src/events/types.js'
import { type Gateway, startGateway } from '../../src/gateway.js'
import { SqliteStore } from '../../src/store/sqlite.js'
import { ScriptedAnthropic } from './scripted-anthropic.js'

export interface TestHome {
  root: string
  /** A workspace folder Claude Code may work in. */
  workspace: string
  dataDir: string
  /** The environment the CLI runs with: scripted model, private config dir and HOME. */
  env: NodeJS.ProcessEnv
  model: ScriptedAnthropic
  close(): Promise<void>
}

export async function testHome(): Promise<TestHome> {
  const root = mkdtempSync(join(tmpdir(), 'ccgw-test-'))
  const workspace = join(root, 'workspace')
  const dataDir = join(root, 'data')
  mkdirSync(workspace)
  const model = new ScriptedAnthropic()
  const url = await model.start()
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    ANTHROPIC_BASE_URL: url,
    ANTHROPIC_API_KEY: 'test-key-not-real',
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
    CLAUDE_CONFIG_DIR: join(root, 'claude-config'),
    HOME: join(root, 'home'),
    // As root, Claude Code refuses bypassPermissions unless it is told it runs in a sandbox.
    IS_SANDBOX: '1',
  }
  mkdirSync(env.HOME!, { recursive: true })
  return {
    root,
    workspace,
    dataDir,
    env,
    model,
    async close() {
      await model.stop()
      // A Claude Code process killed as the gateway closed may still be writing in its folder for a moment.
      rmSync(root, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 })
    },
  }
}

export const quietLog = () => pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' })

export const testLimits = (overrides: Partial<EngineLimits> = {}): EngineLimits => ({
  maxRunners: 4,
  warmSpares: 0,
  idleTimeoutMs: 60_000,
  queueSize: 8,
  queueTimeoutMs: 30_000,
  turnTimeoutMs: 60_000,
  startTimeoutMs: 30_000,
  startRetries: 1,
  sessionQueueSize: 4,
  permissionTimeoutMs: 30_000,
  clientToolTimeoutMs: 30_000,
  tools: {},
  ...overrides,
})

export interface TestEngine {
  engine: SessionManager
  bus: EventBus
  store: SqliteStore
  /** Every event published, in order. */
  events: GatewayEvent[]
  close(): Promise<void>
}

/** An engine with its own store in `home.dataDir`; several in a row share it (a gateway restart). */
export async function testEngine(
  home: TestHome,
  limits: Partial<EngineLimits> = {},
  cliPath: string | null = null,
): Promise<TestEngine> {
  const cli = await detectClaudeCli(cliPath, { PATH: '' })
  const store = new SqliteStore(home.dataDir)
  const bus = await EventBus.open(store)
  const events: GatewayEvent[] = []
  bus.subscribeAll((event) => events.push(event))
  const engine = new SessionManager({
    store,
    bus,
    log: quietLog(),
    cli,
    host: { cliPath: cli.path ?? undefined, env: home.env, settingSources: [], niceness: 10 },
    limits: testLimits(limits),
    defaults: { workspace: home.workspace, model: null, permissionMode: 'default' },
  })
  await engine.start()
  return {
    engine,
    bus,
    store,
    events,
    async close() {
      await engine.shutdown(0)
      await store.close()
    },
  }
}

/** The Claude Code CLI the Agent SDK bundles (never one on PATH): what tests and benchmarks run. */
export async function bundledClaudeCli(): Promise<string> {
  const cli = await detectClaudeCli(null, { PATH: '' })
  if (!cli.usable || !cli.path) throw new Error(`Claude Code CLI unusable: ${cli.reason}`)
  return cli.path
}

/**
 * A wrapper around the real CLI that fails to start its first `failures` times (exit 3 with a message on
 * stderr), counting every start in `<root>/starts`. `--version` always works, like a CLI that is installed
 * but breaks at start-up.
 */
export async function flakyCli(
  home: TestHome,
  failures: number,
): Promise<{ path: string; starts(): number }> {
  const real = await bundledClaudeCli()
  const name = `flaky-claude-${randomUUID()}`
  const counter = join(home.root, `${name}.starts`)
  const path = join(home.root, name)
  writeFileSync(
    path,
    `#!/bin/sh
if [ "$1" = "--version" ]; then exec "${real}" --version; fi
echo x >> "${counter}"
if [ "$(wc -l < "${counter}")" -le ${failures} ]; then echo "simulated start failure" >&2; exit 3; fi
exec "${real}" "$@"
`,
    { mode: 0o755 },
  )
  return {
    path,
    starts: () => (existsSync(counter) ? readFileSync(counter, 'utf8').split('\n').length - 1 : 0),
  }
}

export type ConfigOverrides = { [K in keyof Config]?: Partial<Config[K]> }

/** A configuration as the gateway would load it with no file, plus the given overrides. */
export function testConfig(home: TestHome, overrides: ConfigOverrides = {}): Config {
  const base = structuredClone(loadConfig({ env: {}, cwd: home.root }).config) as Config
  base.server.port = 0
  base.store.dataDir = home.dataDir
  base.claude.defaultWorkspace = home.workspace
  // The test home stands for the user's home (the default root, `~`): the default workspace is under it, as
  // it must be for sessions that name none.
  base.native.workspaceRoots = [home.root]
  base.claude.settingSources = []
  base.log.level = 'silent'
  for (const [section, values] of Object.entries(overrides))
    Object.assign(base[section as keyof Config], values)
  return base
}

export async function testGateway(home: TestHome, config = testConfig(home)): Promise<Gateway> {
  return startGateway({ config, log: quietLog(), env: home.env })
}

/** Runs `use` against a gateway on a home of their own, configured with `overrides`; both stop after it. */
export async function withOwnGateway<T>(
  overrides: ConfigOverrides,
  use: (gateway: Gateway) => Promise<T>,
): Promise<T> {
  const home = await testHome()
  try {
    const gateway = await testGateway(home, testConfig(home, overrides))
    try {
      return await use(gateway)
    } finally {
      await gateway.close()
    }
  } finally {
    await home.close()
  }
}

/**
 * A home of its own for the enclosing suite, whose tests start their own gateways or engines: made in a
 * `before` hook registered where this is called, removed in an `after`.
 */
export function withHome(): { readonly home: TestHome } {
  let home: TestHome | undefined
  before(async () => {
    home = await testHome()
  })
  after(async () => {
    await home?.close()
  })
  return {
    get home() {
      if (home === undefined) throw new Error('withHome: used before its before hook ran, or it failed')
      return home
    },
  }
}

export interface GatewayFixture {
  /** The suite's home: scripted model, workspace, data folder and the environment the CLI runs with. */
  readonly home: TestHome
  readonly gateway: Gateway
  /** The gateway's base URL, e.g. http://127.0.0.1:PORT */
  readonly url: string
}

/**
 * A gateway on a home of its own for the enclosing suite: started in a `before` hook registered where this
 * is called (so the suite's own `before` hooks declared after it find it running), stopped in an `after`.
 * `overrides` may be computed from the home (its paths); `prepare` readies the home before the start.
 */
export function withGateway(
  overrides: ConfigOverrides | ((home: TestHome) => ConfigOverrides) = {},
  prepare?: (home: TestHome) => void | Promise<void>,
): GatewayFixture {
  let home: TestHome | undefined
  let gateway: Gateway | undefined
  before(async () => {
    home = await testHome()
    await prepare?.(home)
    const config = testConfig(home, typeof overrides === 'function' ? overrides(home) : overrides)
    gateway = await testGateway(home, config)
  })
  after(async () => {
    await gateway?.close()
    await home?.close()
  })
  const started = <T>(value: T | undefined): T => {
    if (value === undefined) throw new Error('withGateway: used before its before hook ran, or it failed')
    return value
  }
  return {
    get home() {
      return started(home)
    },
    get gateway() {
      return started(gateway)
    },
    get url() {
      return started(gateway).url
    },
  }
}
