import assert from 'node:assert/strict'
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { homedir, tmpdir } from 'node:os'
import { join } from 'node:path'
import { type TestContext, test } from 'node:test'
import {
  CONFIG_KEYS,
  ConfigError,
  ConfigWatcher,
  type ConfigWatcherEvents,
  isLoopbackHost,
  type LoadOptions,
  loadConfig,
  RESTART_REQUIRED_KEYS,
} from '../../src/config/index.js'
import { effectiveConfigYaml, MASK } from '../../src/effective-config.js'
import { DEFAULT_TOOL_LIMITS } from '../../src/tools/types.js'
import { tempDir } from '../support/temp-dir.js'

function write(dir: string, name: string, text: string): string {
  const file = join(dir, name)
  writeFileSync(file, text)
  return file
}

/** A folder of its own for the test, to load from, holding one config file (`name`) with `text` in it. */
function dirWithConfig(
  t: TestContext,
  text: string,
  name = 'ccgw.config.yaml',
): { cwd: string; file: string } {
  const cwd = tempDir(t)
  return { cwd, file: write(cwd, name, text) }
}

function loadError(options: LoadOptions): ConfigError {
  try {
    loadConfig(options)
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err))
    return err
  }
  assert.fail('expected a ConfigError')
}

test('defaults apply when there is no file, and the result is frozen', (t) => {
  const cwd = tempDir(t)
  const { config, files } = loadConfig({ cwd, env: {} })
  assert.deepEqual(files, [])
  assert.deepEqual(config, {
    server: {
      host: '127.0.0.1',
      port: 8080,
      bodyLimitBytes: 10 * 1024 * 1024,
      maxJsonDepth: 128,
      keepAliveTimeoutMs: 72_000,
      requestTimeoutMs: 0,
      drainTimeoutMs: 30_000,
      apiKeys: [],
      allowUnauthenticatedRemote: false,
      allowedHosts: [],
      allowedOrigins: [],
    },
    claude: {
      cliPath: null,
      env: {},
      defaultModel: null,
      settingSources: ['user', 'project', 'local'],
      defaultWorkspace: null,
      permissionMode: 'default',
      niceness: 10,
      authCheckIntervalMs: 60_000,
    },
    pool: {
      maxRunners: 8,
      warmSpares: 1,
      idleTimeoutMs: 300_000,
      queueSize: 64,
      queueTimeoutMs: 30_000,
      sessionQueueSize: 4,
      permissionTimeoutMs: 120_000,
      turnTimeoutMs: 600_000,
      retryBudgetMs: 30_000,
      startTimeoutMs: 60_000,
      startRetries: 1,
      primeSpares: true,
      spareReclaimIdleMs: 2_000,
      spareStarts: 0,
      maxSpares: 5,
      spareDemandWindowMs: 120_000,
      reuseProcesses: true,
      reuseMaxRssMb: 400,
      memoryBudgetMb: 0,
    },
    store: {
      dataDir: join(homedir(), '.claude-code-gateway'),
      maxSizeBytes: 0,
      maxPendingEvents: 100_000,
      changeCountMaxBytes: 1024 * 1024,
      url: null,
      schema: 'public',
      poolSize: 10,
      statementTimeoutMs: 10_000,
    },
    cluster: {
      redisUrl: null,
      keyPrefix: 'ccgw:',
      replicaId: null,
      advertiseUrl: null,
      secret: '',
      leaseTtlMs: 15_000,
      conversationTtlMs: 86_400_000,
      workspaces: 'shared',
    },
    openai: {
      models: {
        'claude-code': null,
        'claude-code-opus': 'opus',
        'claude-code-sonnet': 'sonnet',
        'claude-code-haiku': 'haiku',
      },
      defaultTools: [],
      requestableTools: ['Read', 'Glob', 'Grep', 'WebSearch', 'WebFetch'],
      permissionModes: ['default', 'plan'],
      requestableAgents: [],
      workspaceRoots: [],
      remoteImages: false,
      toolCallTimeoutMs: 300_000,
      keepAliveMs: 15_000,
      retryBudgetMs: 30_000,
      unfollowedIdleMs: 15_000,
    },
    tools: { ...DEFAULT_TOOL_LIMITS },
    native: {
      workspaceRoots: [homedir()],
      heartbeatMs: 15_000,
      maxBufferedBytes: 1_048_576,
      stallTimeoutMs: 30_000,
      eventStreamMaxSessions: 200,
      uploadMaxFileBytes: 52_428_800,
      uploadMaxFiles: 100,
      filesListMaxEntries: 5000,
      changeContentMaxBytes: 1_048_576,
    },
    users: {
      list: [],
      mcpServers: {},
      defaultQuotas: {},
      workspacesDir: null,
      auditPrompts: false,
      auditRetentionDays: 90,
      keyCacheMs: 5000,
      secretsKey: '',
    },
    admin: { enabled: true },
    metrics: { enabled: true, port: 0, token: '', historySeconds: 900 },
    log: { level: 'info', pretty: 'auto' },
  })
  assert.ok(Object.isFrozen(config.server.apiKeys))
  assert.throws(() => {
    ;(config.pool as { maxRunners: number }).maxRunners = 1
  }, TypeError)
  // Defaults are not shared between loads.
  assert.notEqual(loadConfig({ cwd, env: {} }).config.server.apiKeys, config.server.apiKeys)
})

test('reads ccgw.config.yaml from cwd', (t) => {
  const { cwd, file } = dirWithConfig(t, 'server:\n  port: 9000\n  apiKeys: [k1]\npool:\n  maxRunners: 2\n')
  const { config, files } = loadConfig({ cwd, env: {} })
  assert.deepEqual(files, [file])
  assert.equal(config.server.port, 9000)
  assert.deepEqual(config.server.apiKeys, ['k1'])
  assert.equal(config.pool.maxRunners, 2)
  assert.equal(config.pool.warmSpares, 1)
})

test('reads a JSON file given by --config or CCGW_CONFIG, relative to cwd', (t) => {
  const { cwd, file } = dirWithConfig(
    t,
    JSON.stringify({ log: { level: 'debug' }, claude: { env: { A: 'b' } } }),
    'gw.json',
  )
  for (const options of [{ argv: { configFile: 'gw.json' }, env: {} }, { env: { CCGW_CONFIG: 'gw.json' } }]) {
    const { config, files } = loadConfig({ cwd, ...options })
    assert.deepEqual(files, [file])
    assert.equal(config.log.level, 'debug')
    assert.deepEqual(config.claude.env, { A: 'b' })
  }
})

test('an explicit config file must exist and have a known extension', (t) => {
  const cwd = tempDir(t)
  const missing = loadError({ cwd, env: { CCGW_CONFIG: 'nope.yaml' } })
  assert.deepEqual(missing.issues, [
    { source: join(cwd, 'nope.yaml'), key: '', problem: 'cannot read file (ENOENT)' },
  ])
  write(cwd, 'gw.toml', '')
  assert.match(
    loadError({ cwd, argv: { configFile: 'gw.toml' }, env: {} }).message,
    /gw\.toml: unsupported file type/,
  )
})

test('two discovered config files are ambiguous', (t) => {
  const cwd = tempDir(t)
  write(cwd, 'ccgw.config.yaml', '')
  write(cwd, 'ccgw.config.json', '{}')
  assert.match(loadError({ cwd, env: {} }).message, /found ccgw\.config\.yaml, ccgw\.config\.json/)
})

test('CCGW_ENV merges the per-environment file over the base file', (t) => {
  const { cwd, file: base } = dirWithConfig(
    t,
    'server:\n  port: 9000\n  apiKeys: [a, b]\nclaude:\n  env: {A: "1", B: "2"}\n',
    'gw.yaml',
  )
  const prod = write(cwd, 'gw.production.yaml', 'server:\n  apiKeys: [c]\nclaude:\n  env: {B: "3"}\n')
  const { config, files } = loadConfig({ cwd, argv: { configFile: base }, env: { CCGW_ENV: 'production' } })
  assert.deepEqual(files, [base, prod])
  assert.equal(config.server.port, 9000)
  assert.deepEqual(config.server.apiKeys, ['c'], 'arrays are replaced')
  assert.deepEqual(config.claude.env, { A: '1', B: '3' }, 'objects are merged')

  const staging = loadConfig({ cwd, argv: { configFile: base }, env: { CCGW_ENV: 'staging' } })
  assert.deepEqual(staging.files, [base], 'a missing per-environment file is skipped')

  const bad = loadError({ cwd, argv: { configFile: base }, env: { CCGW_ENV: '../etc' } })
  assert.equal(bad.issues[0]?.source, 'env CCGW_ENV')
})

test('environment variables override the file, coerced by type', (t) => {
  const cwd = tempDir(t)
  write(cwd, 'ccgw.config.yaml', 'pool:\n  maxRunners: 2\nclaude:\n  defaultModel: opus\n  env: {A: "1"}\n')
  const { config } = loadConfig({
    cwd,
    env: {
      CCGW_POOL_MAX_RUNNERS: ' 12 ',
      CCGW_SERVER_ALLOW_UNAUTHENTICATED_REMOTE: 'yes',
      CCGW_SERVER_API_KEYS: 'k1, k2,,',
      CCGW_CLAUDE_SETTING_SOURCES: 'project',
      CCGW_CLAUDE_ENV: '{"B":"2"}',
      CCGW_CLAUDE_PERMISSION_MODE: 'acceptEdits',
      CCGW_CLAUDE_DEFAULT_MODEL: '',
      CCGW_LOG_LEVEL: 'debug',
      PATH: '/bin',
    },
  })
  assert.equal(config.pool.maxRunners, 12)
  assert.equal(config.server.allowUnauthenticatedRemote, true)
  assert.deepEqual(config.server.apiKeys, ['k1', 'k2'])
  assert.deepEqual(config.claude.settingSources, ['project'])
  assert.deepEqual(config.claude.env, { A: '1', B: '2' })
  assert.equal(config.claude.permissionMode, 'acceptEdits')
  assert.equal(config.claude.defaultModel, null, 'empty value means null for nullable keys')
  assert.equal(config.log.level, 'debug')
})

test('every key has an environment variable, named from the schema', () => {
  const names = new Map(CONFIG_KEYS.map(({ key, env }) => [key, env]))
  assert.equal(names.get('pool.maxRunners'), 'CCGW_POOL_MAX_RUNNERS')
  assert.equal(names.get('server.apiKeys'), 'CCGW_SERVER_API_KEYS')
  assert.equal(names.get('claude.env'), 'CCGW_CLAUDE_ENV')
  assert.equal(names.get('store.dataDir'), 'CCGW_STORE_DATA_DIR')
  for (const key of RESTART_REQUIRED_KEYS) assert.ok(names.has(key), key)
})

test('CCGW_PORT and CCGW_HOST are shortcuts; the full names win over them', (t) => {
  const cwd = tempDir(t)
  const short = loadConfig({ cwd, env: { CCGW_PORT: '9100', CCGW_HOST: 'localhost' } }).config
  assert.equal(short.server.port, 9100)
  assert.equal(short.server.host, 'localhost')
  const both = loadConfig({ cwd, env: { CCGW_PORT: '9100', CCGW_SERVER_PORT: '9200' } }).config
  assert.equal(both.server.port, 9200)
})

test('flags beat environment variables', (t) => {
  const cwd = tempDir(t)
  const { config } = loadConfig({
    cwd,
    argv: { port: '9300', host: '::1' },
    env: { CCGW_PORT: '9100', CCGW_SERVER_HOST: 'localhost' },
  })
  assert.equal(config.server.port, 9300)
  assert.equal(config.server.host, '::1')
  assert.equal(loadConfig({ cwd, argv: { port: 0 }, env: {} }).config.server.port, 0)
  const bad = loadError({ cwd, argv: { port: 'abc' }, env: {} })
  assert.deepEqual(bad.issues, [{ source: 'flag --port', key: 'server.port', problem: 'must be integer' }])
})

test('unknown keys in a file are errors naming the file and key', (t) => {
  const { cwd, file } = dirWithConfig(t, 'pool:\n  maxRunner: 3\npools: {}\n')
  const err = loadError({ cwd, env: {} })
  assert.deepEqual(err.issues, [
    { source: file, key: 'pools', problem: 'unknown key (did you mean pool?)' },
    { source: file, key: 'pool.maxRunner', problem: 'unknown key (did you mean maxRunners?)' },
  ])
  assert.match(err.message, new RegExp(`${file}: pool\\.maxRunner: unknown key`))
})

test('a renamed key is an error naming its new name', (t) => {
  const { cwd, file } = dirWithConfig(t, 'server:\n  shutdownGraceMs: 5000\n')
  assert.deepEqual(loadError({ cwd, env: {} }).issues, [
    { source: file, key: 'server.shutdownGraceMs', problem: 'renamed to server.drainTimeoutMs' },
  ])
})

test('unknown CCGW_ variables are errors naming the variable', (t) => {
  const err = loadError({
    cwd: tempDir(t),
    env: { CCGW_POOL_MAX_RUNNER: '3', CCGW_ENV: 'x', CCGW_CONFIG: '' },
  })
  assert.deepEqual(err.issues, [
    {
      source: 'env CCGW_POOL_MAX_RUNNER',
      key: '',
      problem: 'unknown variable (did you mean CCGW_POOL_MAX_RUNNERS?)',
    },
  ])
})

test('bad values name the source, the key and the problem, all of them', (t) => {
  const { cwd, file } = dirWithConfig(
    t,
    'pool:\n  maxRunners: 0\nserver:\n  port: "80"\nlog:\n  level: loud\nclaude:\n  env: {A: 1}\n',
  )
  const err = loadError({
    cwd,
    env: { CCGW_SERVER_API_KEYS: '', CCGW_CLAUDE_ENV: '{nope', CCGW_POOL_QUEUE_SIZE: '-1' },
  })
  const lines = err.message
    .split('\n')
    .slice(1)
    .map((line) => line.trim())
  assert.deepEqual(lines.filter((line) => !line.startsWith('env CCGW_CLAUDE_ENV')).sort(), [
    `${file}: claude.env.A: must be string`,
    `${file}: log.level: must be one of: fatal, error, warn, info, debug, trace, silent`,
    `${file}: pool.maxRunners: must be >= 1`,
    `${file}: server.port: must be integer`,
    'env CCGW_POOL_QUEUE_SIZE: pool.queueSize: must be >= 0',
  ])
  assert.match(lines.join('\n'), /^env CCGW_CLAUDE_ENV: claude\.env: must be a JSON object \(.+\)$/m)
  assert.equal(err.message.split('\n')[0], 'Invalid configuration:')
})

test('syntax errors name the file and the line', (t) => {
  const cwd = tempDir(t)
  const yaml = write(cwd, 'bad.yaml', 'server:\n  port: 1\n  host: [a\npool: {}\n')
  assert.match(
    loadError({ cwd, env: { CCGW_CONFIG: yaml } }).message,
    /bad\.yaml: syntax error at line \d+, column \d+: /,
  )
  const at3 = write(cwd, 'dup.yaml', 'server:\n  port: 1\n  port: 2\n')
  assert.match(
    loadError({ cwd, env: { CCGW_CONFIG: at3 } }).message,
    /dup\.yaml: syntax error at line 3, column 3: /,
  )
  const json = write(cwd, 'bad.json', '{\n  "server": {\n    "port": 1,\n  }\n}\n')
  assert.match(
    loadError({ cwd, env: { CCGW_CONFIG: json } }).message,
    /bad\.json: syntax error at line 4, column 3: /,
  )
  const scalar = write(cwd, 'scalar.yaml', 'just text\n')
  assert.match(loadError({ cwd, env: { CCGW_CONFIG: scalar } }).message, /scalar\.yaml: must be object/)
})

test('paths: ~ is expanded, relative paths follow the file that set them', (t) => {
  const cwd = tempDir(t)
  mkdirSync(join(cwd, 'etc'))
  const file = write(cwd, 'etc/gw.yaml', 'store:\n  dataDir: data\nclaude:\n  cliPath: bin/claude\n')
  const fromFile = loadConfig({ cwd, argv: { configFile: file }, env: {} }).config
  assert.equal(fromFile.store.dataDir, join(cwd, 'etc', 'data'))
  assert.equal(fromFile.claude.cliPath, join(cwd, 'etc', 'bin', 'claude'))

  const fromEnv = loadConfig({
    cwd,
    argv: { configFile: file },
    env: {
      CCGW_STORE_DATA_DIR: 'state',
      CCGW_CLAUDE_DEFAULT_WORKSPACE: '~/work',
      CCGW_CLAUDE_CLI_PATH: 'claude',
    },
  }).config
  assert.equal(fromEnv.store.dataDir, join(cwd, 'state'))
  assert.equal(fromEnv.claude.defaultWorkspace, join(homedir(), 'work'))
  assert.equal(fromEnv.claude.cliPath, 'claude', 'a bare command name is left for PATH lookup')

  const home = loadConfig({ cwd, env: { CCGW_STORE_DATA_DIR: '~' } }).config
  assert.equal(home.store.dataDir, homedir())
})

test('a non-loopback host needs API keys unless explicitly allowed', (t) => {
  const cwd = tempDir(t)
  const err = loadError({ cwd, argv: { host: '0.0.0.0' }, env: {} })
  assert.equal(err.issues.length, 1)
  assert.equal(err.issues[0]?.source, 'flag --host')
  assert.equal(err.issues[0]?.key, 'server.host')
  assert.ok(loadConfig({ cwd, argv: { host: '0.0.0.0' }, env: { CCGW_SERVER_API_KEYS: 'k' } }))
  assert.ok(
    loadConfig({ cwd, argv: { host: '::' }, env: { CCGW_SERVER_ALLOW_UNAUTHENTICATED_REMOTE: 'true' } }),
  )
  for (const host of ['localhost', '127.0.0.1', '127.1.2.3', '::1', '::ffff:127.0.0.1'])
    assert.ok(isLoopbackHost(host))
  for (const host of ['0.0.0.0', '::', '10.0.0.1', 'example.com', '127.0.0.1.nip.io'])
    assert.ok(!isLoopbackHost(host))
})

test('allowed hosts and origins: comma lists from the environment; malformed entries are refused', (t) => {
  const cwd = tempDir(t)
  const { config } = loadConfig({
    cwd,
    env: {
      CCGW_SERVER_ALLOWED_HOSTS: 'gw.example, .corp.example',
      CCGW_SERVER_ALLOWED_ORIGINS: 'https://ui.example,http://localhost:3000/',
    },
  })
  assert.deepEqual(config.server.allowedHosts, ['gw.example', '.corp.example'])
  assert.deepEqual(config.server.allowedOrigins, ['https://ui.example', 'http://localhost:3000/'])
  const file = write(
    cwd,
    'ccgw.config.yaml',
    'server:\n  allowedHosts: ["http://gw.example"]\n  allowedOrigins: ["ui.example", "https://ui.example/app"]\n',
  )
  const err = loadError({ cwd, argv: { configFile: file }, env: {} })
  assert.match(err.message, /server\.allowedHosts\.0: must match pattern/)
  assert.match(err.message, /server\.allowedOrigins\.0: must match pattern/)
  assert.match(err.message, /server\.allowedOrigins\.1: must match pattern/)
})

test('warm spares cannot exceed the runner limit', (t) => {
  const err = loadError({ cwd: tempDir(t), env: { CCGW_POOL_MAX_RUNNERS: '2', CCGW_POOL_WARM_SPARES: '3' } })
  assert.deepEqual(err.issues, [
    {
      source: 'env CCGW_POOL_WARM_SPARES',
      key: 'pool.warmSpares',
      problem: 'must be <= pool.maxRunners (2)',
    },
  ])
})

test('the pool policy keys are bounded', (t) => {
  const err = loadError({
    cwd: tempDir(t),
    env: {
      CCGW_POOL_MAX_SPARES: '-1',
      CCGW_POOL_SPARE_DEMAND_WINDOW_MS: '10',
      CCGW_OPENAI_UNFOLLOWED_IDLE_MS: '99999999',
    },
  })
  assert.deepEqual(
    err.message
      .split('\n')
      .slice(1)
      .map((line) => line.trim())
      .sort(),
    [
      'env CCGW_OPENAI_UNFOLLOWED_IDLE_MS: openai.unfollowedIdleMs: must be <= 3600000',
      'env CCGW_POOL_MAX_SPARES: pool.maxSpares: must be >= 0',
      'env CCGW_POOL_SPARE_DEMAND_WINDOW_MS: pool.spareDemandWindowMs: must be >= 1000',
    ],
  )
})

test('docs/configuration.md covers every key and variable', () => {
  const docs = readFileSync(new URL('../../docs/configuration.md', import.meta.url), 'utf8')
  for (const { key, env } of CONFIG_KEYS) {
    assert.ok(docs.includes(`\`${key}\``), key)
    assert.ok(docs.includes(`\`${env}\``), env)
  }
})

function watcherFor(t: TestContext, options: LoadOptions) {
  const watcher = new ConfigWatcher(options, loadConfig(options), { debounceMs: 20 })
  const changes: ConfigWatcherEvents['change'][0][] = []
  const errors: Error[] = []
  watcher.on('change', (change) => changes.push(change))
  watcher.on('error', (err) => errors.push(err))
  t.after(() => watcher.stop())
  return { watcher, changes, errors }
}

function nextEvent<K extends keyof ConfigWatcherEvents>(
  watcher: ConfigWatcher,
  event: K,
): Promise<ConfigWatcherEvents[K][0]> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no '${event}' event`)), 5000)
    watcher.once(event, ((value: ConfigWatcherEvents[K][0]) => {
      clearTimeout(timer)
      resolve(value)
    }) as never)
  })
}

test('watcher: an edited file emits change with the changed keys', async (t) => {
  const { cwd, file } = dirWithConfig(t, 'pool:\n  maxRunners: 2\n')
  const { watcher, errors } = watcherFor(t, { cwd, env: {} })
  watcher.start()

  const edited = nextEvent(watcher, 'change')
  writeFileSync(file, 'pool:\n  maxRunners: 3\nserver:\n  port: 9000\nclaude:\n  env: {A: "1"}\n')
  const change = await edited
  assert.deepEqual(change.changed, ['server.port', 'claude.env', 'pool.maxRunners'])
  assert.deepEqual(change.restartRequired, ['server.port'])
  assert.equal(change.previous.pool.maxRunners, 2)
  assert.equal(change.config.pool.maxRunners, 3)
  assert.equal(watcher.current.config, change.config)

  // Editors that save by renaming a new file over the old one.
  const replaced = nextEvent(watcher, 'change')
  write(
    cwd,
    'ccgw.config.yaml.tmp',
    'pool:\n  maxRunners: 4\nserver:\n  port: 9000\nclaude:\n  env: {A: "1"}\n',
  )
  renameSync(join(cwd, 'ccgw.config.yaml.tmp'), file)
  assert.deepEqual((await replaced).changed, ['pool.maxRunners'])
  assert.deepEqual(errors, [])
})

test('watcher: an invalid edit emits error and keeps the running config', async (t) => {
  const { cwd, file } = dirWithConfig(t, 'pool:\n  maxRunners: 2\n')
  const { watcher, changes } = watcherFor(t, { cwd, env: {} })
  const before = watcher.current
  watcher.start()

  const rejected = nextEvent(watcher, 'error')
  writeFileSync(file, 'pool:\n  maxRunners: 0\n')
  const err = await rejected
  assert.ok(err instanceof ConfigError)
  assert.match(err.message, /pool\.maxRunners: must be >= 1/)
  assert.equal(watcher.current, before)

  const fixed = nextEvent(watcher, 'change')
  writeFileSync(file, 'pool:\n  maxRunners: 5\n')
  assert.deepEqual((await fixed).changed, ['pool.maxRunners'])
  assert.equal(changes.length, 1)
})

test('watcher: reload() applies changes, and a vanished file is an error', (t) => {
  const { cwd, file } = dirWithConfig(t, 'log:\n  level: info\n')
  const { watcher, changes, errors } = watcherFor(t, { cwd, env: {} })

  assert.equal(watcher.reload(), true)
  assert.equal(changes.length, 0, 'no event when nothing changed')

  writeFileSync(file, 'log:\n  level: debug\n  pretty: never\n')
  assert.equal(watcher.reload(), true)
  assert.deepEqual(changes.at(-1)?.changed, ['log.level', 'log.pretty'])
  assert.deepEqual(changes.at(-1)?.restartRequired, ['log.pretty'])

  rmSync(file)
  assert.equal(watcher.reload(), false)
  assert.match(errors.at(-1)?.message ?? '', /ccgw\.config\.yaml: cannot read file \(ENOENT\)/)
  assert.equal(watcher.current.config.log.level, 'debug')
})

test('watcher: removing API keys is refused while bound to a non-loopback host', (t) => {
  const { cwd, file } = dirWithConfig(t, 'server:\n  host: 0.0.0.0\n  apiKeys: [k]\n')
  const { watcher, errors } = watcherFor(t, { cwd, env: {} })
  // The host change only applies on restart, so the running server would be left open.
  writeFileSync(file, 'server:\n  host: 127.0.0.1\n')
  assert.equal(watcher.reload(), false)
  assert.deepEqual(
    (errors[0] as ConfigError).issues.map((issue) => issue.key),
    ['server.apiKeys'],
  )
})

test('watcher: creating the per-environment file is picked up', async (t) => {
  const { cwd, file: base } = dirWithConfig(t, 'pool:\n  queueSize: 1\n', 'gw.yaml')
  const { watcher } = watcherFor(t, { cwd, argv: { configFile: base }, env: { CCGW_ENV: 'dev' } })
  watcher.start()
  const created = nextEvent(watcher, 'change')
  const devFile = write(cwd, 'gw.dev.yaml', 'pool:\n  queueSize: 2\n')
  assert.deepEqual((await created).changed, ['pool.queueSize'])
  assert.deepEqual(watcher.current.files, [base, devFile])
})

test("--print-config masks the database's and Redis's passwords and the replicas' secret", () => {
  const { config } = loadConfig({
    argv: {},
    cwd: tmpdir(),
    env: {
      CCGW_STORE_URL: 'postgres://gw:db-pass-41@db.internal:5432/gateway',
      CCGW_CLUSTER_REDIS_URL: 'redis://default:redis-pass-42@cache.internal:6379',
      CCGW_CLUSTER_SECRET: 'replica-secret-43-long-enough',
    },
  })
  const printed = effectiveConfigYaml(config, [])
  for (const secret of ['db-pass-41', 'redis-pass-42', 'replica-secret-43'])
    assert.ok(!printed.includes(secret), `${secret} is masked`)
  assert.match(printed, /postgres:\/\/gw:\*+@db\.internal:5432\/gateway/)
  assert.match(printed, /redis:\/\/default:\*+@cache\.internal:6379/)
  assert.match(printed, new RegExp(`secret: ["']?\\${MASK.split('').join('\\')}`))
})
