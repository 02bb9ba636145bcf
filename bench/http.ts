/**
 * HTTP throughput of the gateway's cheap routes, `GET /v1/models` and `GET /v1/health`, against a bare
 * `node:http` server answering the same bytes: what Fastify, the request id, the OpenAI plugin's hooks and
 * the per-request log line cost.
 *
 * Each server runs in its own child process, so the load generator (autocannon, in this process) does not
 * share an event loop with it; on a 2-core machine that is one core each:
 * - the gateway as an operator starts it (`node dist/cli.js --port N`, configured by CCGW_* variables as in
 *   startup.ts) with `pool.warmSpares` 0, with `log.level` info, stdout (its JSON log) going to a file, so
 *   every request writes its real log line, and with `log.level` warn (no request line); two processes of
 *   each (BENCH_HTTP_PROCESSES), their runs pooled, since identical processes can differ for their whole life;
 * - a bare `node:http` server that answers each path with the body the info gateway returned (fetched first,
 *   served byte for byte) and the same `content-type`;
 * - for reference, a bare Fastify app (one route per path, no logger, no hook) answering the same bytes: the
 *   part of the gateway's cost that is the framework's; and the same app writing one pino line a request
 *   (pino's asynchronous destination to a file, as the gateway's): what a logged request costs any Fastify app.
 * Same autocannon settings for all; runs alternate between the servers (the order rotating every round) so
 * a noisy phase of the shared machine does not land on one server only. Reported: median req/s and the
 * median of the runs' p50 and p99 latencies.
 *
 * `BENCH_HTTP_MODE=inprocess` runs the servers in this process instead (startGateway with the test harness's
 * configuration and a pino logger writing to a file): the load generator then competes with them.
 *
 * Needs a build: `npm run build && node --import tsx bench/http.ts`
 * (env: BENCH_HTTP_SECONDS, BENCH_HTTP_RUNS, BENCH_HTTP_CONNECTIONS, BENCH_HTTP_MODE, BENCH_HTTP_PROCESSES).
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { closeSync, createWriteStream, existsSync, mkdtempSync, openSync, readFileSync } from 'node:fs'
import { type Agent, createServer, get, type Server } from 'node:http'
import { createRequire } from 'node:module'
import type { AddressInfo } from 'node:net'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import autocannon from 'autocannon'
import { type Gateway, startGateway } from '../src/gateway.js'
import { createLogger } from '../src/observability/logger.js'
import { bundledClaudeCli, type TestHome, testConfig, testHome } from '../test/support/harness.js'
import { type BenchResult, envInt, freePort, main, type Ratio, type Row, sleep, summarize } from './stats.js'

export interface HttpOptions {
  connections: number
  pipelining: number
  /** Seconds per measured run. */
  durationS: number
  /** Measured runs per server and path. */
  runs: number
  /** Seconds of unmeasured load on each server and path before the first run (JIT, connection set-up). */
  warmupS: number
  /** `child`: each server in its own process (the default); `inprocess`: in this process. */
  mode: 'child' | 'inprocess'
  /**
   * Gateway processes per log level (child mode), their runs pooled: two identical processes can differ by
   * 15% here for the whole of their life, more than what is being measured.
   */
  processes: number
}

export const defaultHttpOptions = (): HttpOptions => ({
  connections: envInt('BENCH_HTTP_CONNECTIONS', 50),
  pipelining: 1,
  durationS: envInt('BENCH_HTTP_SECONDS', 4),
  runs: envInt('BENCH_HTTP_RUNS', 3),
  warmupS: 1,
  mode: process.env.BENCH_HTTP_MODE === 'inprocess' ? 'inprocess' : 'child',
  processes: envInt('BENCH_HTTP_PROCESSES', 2),
})

const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)))
/** The built gateway (`npm run build`). */
export const CLI = join(ROOT, 'dist', 'cli.js')
const READY_TIMEOUT_MS = 30_000
const PATHS = ['/v1/models', '/v1/health'] as const

/** stats.ts knows 'ms' and 'MB'; its renderer prints any unit as given and formats it like 'ms'. */
export const REQ_PER_S = 'req/s' as string as Row['unit']
export const MICROS = 'µs' as string as Row['unit']

export interface Target {
  label: string
  url: string
  /** The server's own process, when it has one: its CPU time is read around each run. */
  pid?: number
  stop(): Promise<void>
}

export interface Body {
  contentType: string
  bytes: Buffer
}

/** One GET (on its own connection unless an agent is given); the status, content type and exact bytes. */
export function fetchBody(
  url: string,
  agent: Agent | false = false,
): Promise<{ status: number; body: Body }> {
  return new Promise((done, fail) => {
    const request = get(url, { agent, timeout: 2_000 }, (response) => {
      const chunks: Buffer[] = []
      response.on('data', (chunk: Buffer) => chunks.push(chunk))
      response.on('end', () =>
        done({
          status: response.statusCode ?? 0,
          body: {
            contentType: String(response.headers['content-type'] ?? ''),
            bytes: Buffer.concat(chunks),
          },
        }),
      )
    })
    request.on('timeout', () => request.destroy(new Error('timeout')))
    request.on('error', fail)
  })
}

/** What `url` answers on each of `paths`, each a 200: the bytes a reference server is to answer the same. */
export async function bodiesOf(url: string, paths: readonly string[]): Promise<Record<string, Body>> {
  const bodies: Record<string, Body> = {}
  for (const path of paths) {
    const { status, body } = await fetchBody(url + path)
    if (status !== 200) throw new Error(`${path}: status ${status}`)
    bodies[path] = body
  }
  return bodies
}

/** Throws unless `reference` answers exactly `bodies` (the same bytes on each path). */
export async function checkServes(reference: Target, bodies: Record<string, Body>): Promise<void> {
  for (const [path, expected] of Object.entries(bodies)) {
    const { body } = await fetchBody(reference.url + path)
    if (!body.bytes.equals(expected.bytes)) throw new Error(`${reference.label} ${path}: body differs`)
  }
}

async function waitForHealth(url: string, child: ChildProcess | null, output: () => string): Promise<void> {
  const started = performance.now()
  for (;;) {
    if (child && child.exitCode !== null) throw new Error(`server exited with ${child.exitCode}: ${output()}`)
    if (performance.now() - started > READY_TIMEOUT_MS) throw new Error(`server not ready: ${output()}`)
    try {
      if ((await fetchBody(`${url}/v1/health`)).status === 200) return
    } catch {
      // not listening yet
    }
    await sleep(20)
  }
}

function waitForExit(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve()
  return new Promise((done) => child.once('exit', () => done()))
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  child.kill('SIGTERM')
  const killer = setTimeout(() => child.kill('SIGKILL'), 10_000)
  await waitForExit(child)
  clearTimeout(killer)
}

export interface GatewayChildOptions {
  level: 'info' | 'warn'
  /** Where its stdout (the JSON log) is appended. */
  logFile: string
  /** More CCGW_* settings; they override the defaults here (e.g. CCGW_POOL_WARM_SPARES, 0 here). */
  env?: NodeJS.ProcessEnv
  /** Node options before the script (e.g. `--expose-gc`). */
  nodeArgs?: string[]
  /** Open an IPC channel to the child (`child.send()`), for a probe loaded with `nodeArgs`. */
  ipc?: boolean
  /**
   * Run `src/cli.ts` through tsx instead of the build, so that a probe in `nodeArgs` can patch the gateway's
   * own modules (the build bundles them out of reach).
   */
  fromSource?: boolean
  /** Another build's `dist/cli.js` (bench/ab.ts compares two); this checkout's by default. */
  build?: string
}

const SOURCE_CLI = join(ROOT, 'src', 'cli.ts')

/** `node dist/cli.js --port N` (or its source) with a fresh data directory, configured by CCGW_* variables. */
export async function gatewayChild(
  home: TestHome,
  cliPath: string,
  {
    level,
    logFile,
    env = {},
    nodeArgs = [],
    ipc = false,
    fromSource = false,
    build = CLI,
  }: GatewayChildOptions,
): Promise<Target & { child: ChildProcess }> {
  const port = await freePort()
  const out = openSync(logFile, 'a')
  const script = fromSource
    ? ['--import', import.meta.resolve('tsx'), ...nodeArgs, SOURCE_CLI]
    : [...nodeArgs, build]
  const child = spawn(process.execPath, [...script, '--port', String(port)], {
    cwd: home.workspace,
    env: {
      ...home.env,
      CCGW_STORE_DATA_DIR: mkdtempSync(join(home.root, 'data-')),
      CCGW_CLAUDE_CLI_PATH: cliPath,
      CCGW_CLAUDE_DEFAULT_WORKSPACE: home.workspace,
      CCGW_CLAUDE_SETTING_SOURCES: '',
      CCGW_POOL_WARM_SPARES: '0',
      CCGW_LOG_LEVEL: level,
      CCGW_LOG_PRETTY: 'never',
      ...env,
    },
    stdio: ipc ? ['ignore', out, 'pipe', 'ipc'] : ['ignore', out, 'pipe'],
  })
  closeSync(out)
  let stderr = ''
  child.stderr?.setEncoding('utf8')
  child.stderr?.on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-4000)
  })
  const url = `http://127.0.0.1:${port}`
  try {
    await waitForHealth(url, child, () => stderr)
  } catch (error) {
    await stopChild(child)
    throw error
  }
  return { label: `gateway, log ${level}`, url, pid: child.pid, child, stop: () => stopChild(child) }
}

/** The bare server: for each known path its body and content type, 404 for anything else. */
function rawHandler(bodies: Record<string, Body>) {
  return (request: { url?: string }, response: import('node:http').ServerResponse) => {
    const body = bodies[request.url ?? '']
    if (!body) {
      response.writeHead(404).end()
      return
    }
    response.writeHead(200, { 'content-type': body.contentType, 'content-length': body.bytes.length })
    response.end(body.bytes)
  }
}

/**
 * The reference servers as a child script (CommonJS, bodies passed base64 in the environment): the same
 * handler on a bare `node:http` server, or each path as one Fastify route (no logger, no hook: the framework
 * alone, for how much of the gateway's cost is Fastify's).
 */
const REFERENCE_CHILD_SCRIPT = `
const given = JSON.parse(process.env.REFERENCE_BODIES)
const bodies = {}
for (const [path, body] of Object.entries(given))
  bodies[path] = { contentType: body.contentType, bytes: Buffer.from(body.base64, 'base64') }
const ready = (port) => console.log('port ' + port)
if (process.env.REFERENCE_FASTIFY) {
  // With REFERENCE_LOG_FILE: pino's asynchronous destination, as the gateway's, and one line a request
  // from an onResponse hook, as the gateway writes it.
  const logFile = process.env.REFERENCE_LOG_FILE
  const logger = logFile
    ? require(process.env.REFERENCE_PINO)({ level: 'info' }, require(process.env.REFERENCE_PINO).destination({ dest: logFile, sync: false }))
    : false
  const app = require(process.env.REFERENCE_FASTIFY)({ loggerInstance: logger || undefined, logger: logger ? undefined : false, disableRequestLogging: true })
  if (logger)
    app.addHook('onResponse', (request, reply, done) => {
      request.log.info({ method: request.method, route: request.routeOptions.url, status: reply.statusCode, durationMs: reply.elapsedTime }, 'request')
      done()
    })
  for (const [path, body] of Object.entries(bodies))
    app.get(path, (request, reply) => { reply.type(body.contentType).send(body.bytes) })
  app.listen({ port: 0, host: '127.0.0.1' }).then(() => ready(app.server.address().port))
  process.on('SIGTERM', () => app.close().then(() => process.exit(0)))
} else {
  const server = require('node:http').createServer((request, response) => {
    const body = bodies[request.url]
    if (!body) { response.writeHead(404).end(); return }
    response.writeHead(200, { 'content-type': body.contentType, 'content-length': body.bytes.length })
    response.end(body.bytes)
  })
  server.listen(0, '127.0.0.1', () => ready(server.address().port))
  process.on('SIGTERM', () => { server.closeAllConnections(); server.close(() => process.exit(0)) })
}
`

/**
 * A bare node:http server (or, with `framework`, a bare Fastify app) in its own process, answering each path
 * of `bodies` with its exact bytes.
 */
export async function referenceChild(
  bodies: Record<string, Body>,
  framework?: 'fastify',
  /** With `framework`: its log goes to this file, one info line a request (pino, as the gateway's). */
  logFile?: string,
): Promise<Target> {
  const encoded = Object.fromEntries(
    Object.entries(bodies).map(([path, body]) => [
      path,
      { contentType: body.contentType, base64: body.bytes.toString('base64') },
    ]),
  )
  const child = spawn(process.execPath, ['-e', REFERENCE_CHILD_SCRIPT], {
    env: {
      PATH: process.env.PATH,
      REFERENCE_BODIES: JSON.stringify(encoded),
      ...(framework ? { REFERENCE_FASTIFY: createRequire(import.meta.url).resolve('fastify') } : {}),
      ...(framework && logFile
        ? { REFERENCE_LOG_FILE: logFile, REFERENCE_PINO: createRequire(import.meta.url).resolve('pino') }
        : {}),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  const port = await new Promise<number>((done, fail) => {
    const timer = setTimeout(() => fail(new Error(`reference server not ready: ${output}`)), READY_TIMEOUT_MS)
    child.stdout?.setEncoding('utf8')
    child.stdout?.on('data', (chunk: string) => {
      output += chunk
      const match = /port (\d+)/.exec(output)
      if (match) {
        clearTimeout(timer)
        done(Number(match[1]))
      }
    })
    child.stderr?.setEncoding('utf8')
    child.stderr?.on('data', (chunk: string) => {
      output += chunk
    })
    child.once('exit', (code) => fail(new Error(`reference server exited with ${code}: ${output}`)))
  })
  return {
    label: framework ? (logFile ? 'Fastify + pino line' : 'bare Fastify') : 'raw node:http',
    url: `http://127.0.0.1:${port}`,
    pid: child.pid,
    stop: () => stopChild(child),
  }
}

async function gatewayInProcess(home: TestHome, level: 'info' | 'warn', logFile: string): Promise<Target> {
  const destination = createWriteStream(logFile, { flags: 'a' })
  const config = testConfig(home, { pool: { warmSpares: 0 }, log: { level, pretty: 'never' } })
  const gateway: Gateway = await startGateway({
    config,
    log: createLogger({ level, pretty: 'never', destination }),
    env: home.env,
  })
  return {
    label: `gateway, log ${level}`,
    url: gateway.url,
    async stop() {
      await gateway.close()
      await new Promise<void>((done) => destination.end(done))
    },
  }
}

async function rawInProcess(bodies: Record<string, Body>): Promise<Target> {
  const server: Server = createServer(rawHandler(bodies))
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done))
  const { port } = server.address() as AddressInfo
  return {
    label: 'raw node:http',
    url: `http://127.0.0.1:${port}`,
    async stop() {
      server.closeAllConnections()
      await new Promise<void>((done) => server.close(() => done()))
    },
  }
}

export interface Run {
  /** The round of `alternate` it ran in (0 for a lone run). */
  round: number
  reqPerS: number
  p50: number
  p99: number
  /** Bytes per response, headers included. */
  bytes: number
  /** CPU time (user + system, every thread) the server process spent per request, in µs; NaN in process. */
  cpuUsPerRequest: number
  /** The server process's CPU time over the run's duration (1 = one core busy all the time). */
  cpuLoad: number
}

const CLOCK_TICKS_PER_S = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100
  } catch {
    return 100
  }
})()

/** User + system CPU time of a process (all its threads) in ms, from /proc/<pid>/stat. */
function cpuMs(pid: number | undefined): number {
  if (pid === undefined) return Number.NaN
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  // The command name is in parentheses and may contain spaces: fields resume after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS_PER_S
}

/** Requests each server answered (warm-up included), by URL origin: to compare with the log lines. */
const answered = new Map<string, number>()

/** One autocannon run on one path of one server; throws on any error or non-2xx answer. */
export async function load(
  server: Target,
  path: string,
  options: HttpOptions,
  durationS: number,
): Promise<Run> {
  const url = server.url + path
  const cpuBefore = cpuMs(server.pid)
  const result = await autocannon({
    url,
    connections: options.connections,
    pipelining: options.pipelining,
    duration: durationS,
  })
  if (result.errors > 0 || result.non2xx > 0 || result.timeouts > 0)
    throw new Error(
      `${url}: ${result.errors} errors, ${result.timeouts} timeouts, ${result.non2xx} non-2xx responses`,
    )
  const origin = new URL(url).origin
  answered.set(origin, (answered.get(origin) ?? 0) + result.requests.total)
  return {
    round: 0,
    reqPerS: result.requests.total / result.duration,
    p50: result.latency.p50,
    p99: result.latency.p99,
    bytes: result.throughput.total / Math.max(1, result.requests.total),
    cpuUsPerRequest: ((cpuMs(server.pid) - cpuBefore) * 1000) / Math.max(1, result.requests.total),
    cpuLoad: (cpuMs(server.pid) - cpuBefore) / (result.duration * 1000),
  }
}

/** How runs of one server on one path are keyed and named in rows: `/v1/models gateway, log info`. */
export const runKey = (server: Target, pathName: string) => `${pathName} ${server.label}`

/**
 * Load every server on every path: first `warmupS` unmeasured, then `runs` measured rounds whose order
 * rotates, so a noisy phase of the machine does not land on one server only. Runs by `runKey`, with each
 * path named by `nameOf` (e.g. `/api/sessions/{id}` for a path holding a fresh id).
 */
export async function alternate(
  servers: Target[],
  paths: readonly string[],
  options: HttpOptions,
  nameOf: (path: string) => string = (path) => path,
): Promise<Map<string, Run[]>> {
  const runs = new Map<string, Run[]>()
  for (const path of paths) {
    for (const server of servers) await load(server, path, options, options.warmupS)
    for (let round = 0; round < options.runs; round++) {
      // Rotate the order every round, so no server always runs first (or right after another).
      const order = servers.map((_, i) => servers[(i + round) % servers.length]!)
      for (const server of order) {
        const run = { ...(await load(server, path, options, options.durationS)), round }
        const list = runs.get(runKey(server, nameOf(path))) ?? []
        list.push(run)
        runs.set(runKey(server, nameOf(path)), list)
      }
    }
  }
  return runs
}

/** The rows of one server on one path: throughput, autocannon's p50 and p99, and CPU per request. */
export function loadRows(runs: Map<string, Run[]>, server: Target, pathName: string): Row[] {
  const name = runKey(server, pathName)
  const of = runs.get(name) ?? []
  const rows: Row[] = [
    { name: `${name}: throughput`, unit: REQ_PER_S, samples: of.map((run) => run.reqPerS) },
    { name: `${name}: latency p50`, unit: 'ms', samples: of.map((run) => run.p50) },
    { name: `${name}: latency p99`, unit: 'ms', samples: of.map((run) => run.p99) },
  ]
  if (server.pid !== undefined)
    rows.push({
      name: `${name}: server CPU per request`,
      unit: MICROS,
      samples: of.map((run) => run.cpuUsPerRequest),
      note: `server busy ${of.map((run) => run.cpuLoad.toFixed(2)).join('/')} of a core`,
    })
  return rows
}

const medianRow = (rows: Row[], name: string) =>
  summarize(rows.find((row) => row.name === name)?.samples ?? []).median

/** The median over rounds of one server's throughput over another's in the same round. */
function pairedRatio(runs: Map<string, Run[]>, numerator: string, denominator: string): number {
  const over = new Map((runs.get(denominator) ?? []).map((run) => [run.round, run.reqPerS]))
  const perRun = (runs.get(numerator) ?? []).map((run) => run.reqPerS / (over.get(run.round) ?? Number.NaN))
  return summarize(perRun).median
}

const lineCount = (file: string) =>
  existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean).length : 0

export async function runHttp(options: HttpOptions = defaultHttpOptions()): Promise<BenchResult> {
  if (options.mode === 'child' && !existsSync(CLI))
    throw new Error(`${CLI} is missing: run \`npm run build\` first (npm run bench does)`)
  const began = performance.now()
  const home = await testHome()
  const targets: Target[] = []
  try {
    const cliPath = await bundledClaudeCli()
    const logFile = { info: join(home.root, 'gateway-info.log'), warn: join(home.root, 'gateway-warn.log') }
    const processes = options.mode === 'child' ? options.processes : 1
    // The processes of one level share a label, so their runs are pooled under one name.
    const start = async (level: 'info' | 'warn') => {
      const started: Target[] = []
      for (let i = 0; i < processes; i++) {
        const target =
          options.mode === 'child'
            ? await gatewayChild(home, cliPath, { level, logFile: logFile[level] })
            : await gatewayInProcess(home, level, logFile[level])
        targets.push(target)
        started.push(target)
      }
      return started
    }
    const infos = await start('info')
    const warns = await start('warn')
    const [info, warn] = [infos[0]!, warns[0]!]

    // The bodies the raw server serves: exactly what the info gateway answers.
    const bodies = await bodiesOf(info.url, PATHS)
    const raw = options.mode === 'child' ? await referenceChild(bodies) : await rawInProcess(bodies)
    targets.push(raw)
    // The framework alone, for reference (its own process; not in process mode).
    const fastify = options.mode === 'child' ? await referenceChild(bodies, 'fastify') : null
    if (fastify) targets.push(fastify)
    // The framework with a request line through pino, as the gateway writes it: what logging costs anyone.
    const logged =
      options.mode === 'child'
        ? await referenceChild(bodies, 'fastify', join(home.root, 'fastify-info.log'))
        : null
    if (logged) targets.push(logged)
    const references = [raw, fastify, logged].filter((target): target is Target => target !== null)
    for (const reference of references) await checkServes(reference, bodies)

    const configs = [...references, info, warn]
    const runs = await alternate([...references, ...infos, ...warns], PATHS, options)
    // Stopped first, so the async log writers have drained (the stop itself adds a few lines).
    for (const target of targets.splice(0).reverse()) await target.stop()
    const infoLines = lineCount(logFile.info)
    const warnLines = lineCount(logFile.warn)
    const served = (targets: Target[]) =>
      targets.reduce((sum, target) => sum + (answered.get(new URL(target.url).origin) ?? 0), 0)

    const rows: Row[] = []
    const ratios: Ratio[] = []
    const bytesNote: string[] = []
    for (const path of PATHS) {
      for (const server of configs) {
        rows.push(...loadRows(runs, server, path))
        bytesNote.push(
          `${runKey(server, path)} ${Math.round(runs.get(runKey(server, path))?.[0]?.bytes ?? Number.NaN)} B`,
        )
      }
      ratios.push(
        {
          name: `${path} gateway (log info) / raw, req/s`,
          numerator: `${runKey(info, path)}: throughput`,
          denominator: `${runKey(raw, path)}: throughput`,
          atLeast: 0.75,
        },
        {
          name: `${path} gateway (log warn) / raw, req/s`,
          numerator: `${runKey(warn, path)}: throughput`,
          denominator: `${runKey(raw, path)}: throughput`,
        },
        {
          name: `${path} gateway log info / log warn, req/s`,
          numerator: `${runKey(info, path)}: throughput`,
          denominator: `${runKey(warn, path)}: throughput`,
        },
      )
      if (fastify)
        ratios.push(
          {
            name: `${path} bare Fastify / raw, req/s`,
            numerator: `${runKey(fastify, path)}: throughput`,
            denominator: `${runKey(raw, path)}: throughput`,
          },
          {
            name: `${path} gateway (log info) / bare Fastify, req/s`,
            numerator: `${runKey(info, path)}: throughput`,
            denominator: `${runKey(fastify, path)}: throughput`,
          },
        )
      if (logged)
        ratios.push(
          {
            name: `${path} Fastify + pino line / raw, req/s`,
            numerator: `${runKey(logged, path)}: throughput`,
            denominator: `${runKey(raw, path)}: throughput`,
          },
          {
            name: `${path} gateway (log info) / Fastify + pino line, req/s`,
            numerator: `${runKey(info, path)}: throughput`,
            denominator: `${runKey(logged, path)}: throughput`,
          },
        )
      if (options.mode === 'child')
        ratios.push(
          {
            name: `${path} raw / gateway (log info), CPU per request`,
            numerator: `${runKey(raw, path)}: server CPU per request`,
            denominator: `${runKey(info, path)}: server CPU per request`,
          },
          {
            name: `${path} raw / gateway (log warn), CPU per request`,
            numerator: `${runKey(raw, path)}: server CPU per request`,
            denominator: `${runKey(warn, path)}: server CPU per request`,
          },
        )
    }
    const where =
      options.mode === 'child'
        ? 'each server in its own child process (gateway: node dist/cli.js --port N, CCGW_POOL_WARM_SPARES=0, CCGW_LOG_LEVEL info or warn, stdout to a file; raw: node -e with a node:http server; bare Fastify: node -e with one Fastify route per path, no logger, no hook; Fastify + pino line: the same with pino asynchronously to a file, and one info line a request from an onResponse hook); autocannon in the parent'
        : 'every server and autocannon in this one process (startGateway with testConfig, pino to a file): they share one event loop'
    return {
      title: 'HTTP throughput: GET /v1/models and /v1/health, gateway vs a bare node:http server',
      rows,
      ratios,
      targets: [],
      notes: [
        `autocannon: ${options.connections} connections, pipelining ${options.pipelining}, ${options.durationS} s per run, ${options.runs} runs per server and path (order rotating each round), after ${options.warmupS} s of unmeasured warm-up each`,
        where,
        `throughput rows: requests completed / run duration, one sample per run; latency rows: the p50 or p99 of each run (autocannon, ms), one sample per run; ${processes} gateway process(es) per log level, each run once a round, their runs pooled`,
        `raw server: the info gateway's bodies byte for byte with the same content-type, and only the headers node:http adds itself (date, connection, keep-alive; the gateway adds x-request-id too); bytes per response, headers included: ${bytesNote.join('; ')}`,
        `log lines written: level info ${infoLines} for ${served(infos)} requests answered (one line per request, plus start and stop lines); level warn ${warnLines} for ${served(warns)}`,
        `ratios to two decimals: ${ratios.map((r) => `${r.name} ${(medianRow(rows, r.numerator) / medianRow(rows, r.denominator)).toFixed(2)}`).join('; ')}`,
        `paired by round (each run over the raw run of its round, median of the runs; steadier than a ratio of medians when the machine's speed drifts): ${PATHS.flatMap(
          (path) =>
            configs
              .filter((server) => server !== raw)
              .map(
                (server) =>
                  `${runKey(server, path)} / raw, req/s ${pairedRatio(runs, runKey(server, path), runKey(raw, path)).toFixed(2)}`,
              ),
        ).join('; ')}`,
      ],
      elapsedMs: performance.now() - began,
    }
  } finally {
    for (const target of targets.reverse()) await target.stop().catch(() => undefined)
    await home.close()
  }
}

await main(import.meta.url, () => runHttp())
