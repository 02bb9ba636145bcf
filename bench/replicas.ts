/**
 * Replicas (issue 16): the gateway as one, two and three processes on this machine sharing one PostgreSQL
 * schema and one Redis key prefix, each with its own Claude Code config folder and data folder, the
 * workspace shared, against the scripted model streaming every answer at a realistic pace
 * (BENCH_REPLICAS_TOKENS deltas BENCH_REPLICAS_TOKEN_MS apart: 40 × 15 ms, a 0.6 s answer, by default).
 *
 * - Throughput and latency, through N = 1, 2, 3 replicas on PostgreSQL and, as the baseline, one gateway on
 *   SQLite (the default store): (a) new conversations, `POST /api/sessions` then its first message, and (b)
 *   follow-ups on sessions that had a turn. A closed-loop client keeps BENCH_REPLICAS_CONCURRENCY requests in
 *   flight (8; in (b) one session per worker), each HTTP request sent to the next replica in turn as a
 *   round-robin load balancer does, so a follow-up reaches its session's owner one time in N and is forwarded
 *   there otherwise. BENCH_REPLICAS_NEW (32) new conversations and BENCH_REPLICAS_FOLLOWUPS (128) follow-ups
 *   per configuration, after one unmeasured conversation per replica; `pool.maxRunners`
 *   BENCH_REPLICAS_MAX_RUNNERS (16) on every replica, so that one replica keeps all of (b)'s sessions live. Every turn is answered as JSON. CPU
 *   over each phase: the replicas' process trees (gateway and Claude Code processes, /proc), PostgreSQL and
 *   Redis (their processes), this process (the client and the scripted model) and the machine's busy time
 *   (/proc/stat); requests/s per busy core of the replicas and of the machine. Memory: each replica's RSS
 *   and its Claude Code processes' at the end of (b).
 * - Forwarding overhead, on the three replicas: the same follow-up sent to its owner directly and through a
 *   replica that does not own it, in interleaved pairs (the order alternating, the non-owner rotating), one
 *   request at a time, the model answering at once (BENCH_REPLICAS_FORWARD_PAIRS, 40); and a cheap owned
 *   route, `GET /api/sessions/{id}/permissions`, the same way (BENCH_REPLICAS_ROUTE_PAIRS, 300).
 * - Failover: three fresh replicas with `cluster.leaseTtlMs` at its default and at BENCH_REPLICAS_SHORT_TTL_MS
 *   (3000); BENCH_REPLICAS_FAILOVERS (5) times each, a session's owner and its Claude Code processes killed
 *   with SIGKILL at a random point of its lease's heartbeat (seeded), then the session's follow-up sent
 *   through a survivor, retried after the Retry-After of each 503, until answered: kill → answer. The answer
 *   must carry the session's first turn (resumed from PostgreSQL); the killed replica is started again after.
 *
 * Each configuration has its own schema (dropped after) and Redis key prefix. The gateway runs as
 * `node dist/cli.js` when the build is current (`scripts/build-if-stale.mjs --check`), else from source
 * through tsx: the notes say which. Needs PostgreSQL and Redis (TEST_POSTGRES_URL, CCGW_TEST_REDIS_URL; see
 * test/support/services.ts). About 7 minutes with the defaults.
 *
 *   node --import tsx bench/run.ts --only replicas      or      node --import tsx bench/replicas.ts
 */
import { execFileSync } from 'node:child_process'
import { randomBytes, randomUUID } from 'node:crypto'
import { mkdirSync } from 'node:fs'
import { readdir, readFile } from 'node:fs/promises'
import { cpus } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import pg from 'pg'
import { DEFAULT_LEASE_TTL_MS } from '../src/cluster/leases.js'
import { bundledClaudeCli, type TestHome, testHome } from '../test/support/harness.js'
import {
  conversationTexts,
  lastUserText,
  type MessagesRequestBody,
  type ScriptedMessage,
  text,
} from '../test/support/scripted-anthropic.js'
import { POSTGRES_URL, REDIS_URL, servicesSkip } from '../test/support/services.js'
import { gatewayChild, REQ_PER_S } from './http.js'
import { fetchJson } from './json-call.js'
import {
  type BenchResult,
  descendants,
  envInt,
  main,
  processCpu,
  type Ratio,
  type Row,
  render,
  rssMb,
  seeded,
  sleep,
  summarize,
  treeUsage,
  usageOf,
} from './stats.js'

export interface ReplicasOptions {
  /** Requests in flight in the closed loop. */
  concurrency: number
  /** New conversations per configuration. */
  newConversations: number
  /** Follow-ups per configuration. */
  followUps: number
  /**
   * `pool.maxRunners` of every replica: above the sessions of (b) and the spares a burst of new
   * conversations adds (`pool.maxSpares`, 5), so that one replica holds every session live as three do.
   */
  maxRunners: number
  /** Text deltas per answer, and the pause between two. */
  tokens: number
  tokenMs: number
  /** Owner / non-owner pairs of follow-ups, and of the cheap owned route. */
  forwardPairs: number
  routePairs: number
  /** Owner kills per lease TTL. */
  failovers: number
  shortTtlMs: number
  seed: number
}

export const defaultReplicasOptions = (): ReplicasOptions => ({
  concurrency: envInt('BENCH_REPLICAS_CONCURRENCY', 8),
  newConversations: envInt('BENCH_REPLICAS_NEW', 32),
  followUps: envInt('BENCH_REPLICAS_FOLLOWUPS', 128),
  maxRunners: envInt('BENCH_REPLICAS_MAX_RUNNERS', 16),
  tokens: envInt('BENCH_REPLICAS_TOKENS', 40),
  tokenMs: envInt('BENCH_REPLICAS_TOKEN_MS', 15, 0),
  forwardPairs: envInt('BENCH_REPLICAS_FORWARD_PAIRS', 40),
  routePairs: envInt('BENCH_REPLICAS_ROUTE_PAIRS', 300),
  failovers: envInt('BENCH_REPLICAS_FAILOVERS', 5),
  shortTtlMs: envInt('BENCH_REPLICAS_SHORT_TTL_MS', 3_000, 1_000),
  seed: envInt('BENCH_REPLICAS_SEED', 1, 0),
})

const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)))
/** A turn's answer (JSON) never takes this long here; past it the request counts as failed. */
const REQUEST_TIMEOUT_MS = 120_000
/** Characters per streamed delta: one word of the paced answer. */
const WORD = 'word '

/** Why the build cannot be run (null: dist/ is current), by the check `npm start` uses. */
function staleBuild(): string | null {
  try {
    execFileSync(process.execPath, [join(ROOT, 'scripts', 'build-if-stale.mjs'), '--check'], {
      encoding: 'utf8',
      stdio: 'pipe',
    })
    return null
  } catch (error) {
    return String((error as { stdout?: string }).stdout ?? '').trim() || 'the check failed'
  }
}

/**
 * What the scripted model answers, and whether each follow-up reached it with its session's first message:
 * proof that a forwarded or taken-over turn ran in the session's own conversation.
 */
class Conversations {
  paced = true
  readonly wrong: string[] = []
  private readonly token = randomUUID().slice(0, 8)

  constructor(private readonly pace: { tokens: number; tokenMs: number }) {}

  first = (session: string) => `First message of ${session} (${this.token})`
  followUp = (session: string, k: number) => `Follow-up ${k} of ${session} (${this.token})`

  reply(body: MessagesRequestBody): ScriptedMessage {
    const followUp = new RegExp(`^Follow-up \\d+ of (\\S+) \\(${this.token}\\)$`).exec(lastUserText(body))
    if (followUp) {
      const first = this.first(followUp[1]!)
      if (!conversationTexts(body).some((turn) => turn.role === 'user' && turn.text === first))
        this.wrong.push(`${followUp[1]}: a follow-up reached the model without the session's first message`)
    }
    if (!this.paced) return text('ok')
    return text(WORD.repeat(this.pace.tokens), { chunkSize: WORD.length, chunkDelayMs: this.pace.tokenMs })
  }
}

interface Answer {
  status: number
  retryAfterS: number | null
  body: Record<string, unknown> | null
  raw: string
}

async function send(url: string, method: string, path: string, body?: unknown): Promise<Answer> {
  const { response, raw } = await fetchJson(url, method, path, body, REQUEST_TIMEOUT_MS)
  const retryAfter = response.headers.get('retry-after')
  let parsed: Record<string, unknown> | null = null
  try {
    parsed = raw ? (JSON.parse(raw) as Record<string, unknown>) : null
  } catch {
    // not JSON: `raw` says what it was
  }
  return {
    status: response.status,
    // Seconds; a date form (never sent by the gateway) counts as absent.
    retryAfterS: retryAfter !== null && Number.isFinite(Number(retryAfter)) ? Number(retryAfter) : null,
    body: parsed,
    raw,
  }
}

/** Throws unless the answer is `status` (and, for a turn, a completed one). */
function expect(answer: Answer, status: number, what: string): Record<string, unknown> {
  const turnFailed = answer.body?.status !== undefined && answer.body.status !== 'success'
  if (answer.status !== status || (status === 200 && turnFailed))
    throw new Error(`${what}: status ${answer.status}: ${answer.raw.slice(0, 300)}`)
  return answer.body ?? {}
}

interface Replica {
  name: string
  url: string
  pid: number
  stop(): Promise<void>
}

interface ClusterSpec {
  /** Names the schema and key prefix: lower-case letters, digits, `_`. */
  label: string
  replicas: number
  store: 'sqlite' | 'postgres'
  /** `cluster.leaseTtlMs`; its default when absent. */
  leaseTtlMs?: number
  /** `pool.maxRunners` of each replica. */
  maxRunners: number
}

/** Gateway processes sharing one store (and, on PostgreSQL, one Redis prefix), addressed round-robin. */
class Cluster {
  readonly replicas: Replica[] = []
  readonly schema: string
  private readonly prefix: string
  private readonly secret = randomBytes(24).toString('hex')
  private turn = 0

  private constructor(
    private readonly home: TestHome,
    private readonly cliPath: string,
    private readonly spec: ClusterSpec,
    private readonly fromSource: boolean,
    private readonly admin: pg.Pool,
  ) {
    this.schema = `bench_replicas_${process.pid}_${spec.label}`
    this.prefix = `ccgw-bench-${process.pid}-${randomBytes(4).toString('hex')}-${spec.label}:`
  }

  static async start(
    home: TestHome,
    cliPath: string,
    spec: ClusterSpec,
    fromSource: boolean,
    admin: pg.Pool,
  ): Promise<Cluster> {
    const cluster = new Cluster(home, cliPath, spec, fromSource, admin)
    if (spec.store === 'postgres') await admin.query(`DROP SCHEMA IF EXISTS ${cluster.schema} CASCADE`)
    const names = Array.from({ length: spec.replicas }, (_, i) => String.fromCharCode(97 + i))
    try {
      cluster.replicas.push(...(await Promise.all(names.map((name) => cluster.startReplica(name)))))
    } catch (error) {
      await cluster.stop()
      throw error
    }
    return cluster
  }

  private async startReplica(name: string): Promise<Replica> {
    const own = join(this.home.root, `${this.spec.label}-${name}`)
    mkdirSync(join(own, 'home'), { recursive: true })
    const shared =
      this.spec.store === 'postgres'
        ? {
            CCGW_STORE_URL: POSTGRES_URL,
            CCGW_STORE_SCHEMA: this.schema,
            CCGW_CLUSTER_REDIS_URL: REDIS_URL,
            CCGW_CLUSTER_KEY_PREFIX: this.prefix,
            CCGW_CLUSTER_REPLICA_ID: name,
            CCGW_CLUSTER_SECRET: this.secret,
            ...(this.spec.leaseTtlMs === undefined
              ? {}
              : { CCGW_CLUSTER_LEASE_TTL_MS: String(this.spec.leaseTtlMs) }),
          }
        : {}
    const gateway = await gatewayChild(this.home, this.cliPath, {
      level: 'info',
      logFile: join(this.home.root, `${this.spec.label}-${name}.log`),
      fromSource: this.fromSource,
      env: {
        // Each replica has its own disk for Claude's config: only the database and the workspace are shared.
        CLAUDE_CONFIG_DIR: join(own, 'claude-config'),
        HOME: join(own, 'home'),
        // The workspace roots default to HOME, which is the replica's own: the shared workspace is outside it.
        CCGW_NATIVE_WORKSPACE_ROOTS: this.home.root,
        // The pool as configured by default (one warm spare), not gatewayChild's none.
        CCGW_POOL_WARM_SPARES: '1',
        CCGW_POOL_MAX_RUNNERS: String(this.spec.maxRunners),
        ...shared,
      },
    })
    return { name, url: gateway.url, pid: gateway.child.pid!, stop: gateway.stop }
  }

  /** The replica the next request goes to, as a round-robin load balancer picks it. */
  next(): Replica {
    return this.replicas[this.turn++ % this.replicas.length]!
  }

  /** The replica holding the session's live lease, by the lease table. */
  async ownerOf(sessionId: string): Promise<Replica | undefined> {
    const { rows } = await this.admin.query<{ replica_id: string }>(
      `SELECT replica_id FROM ${this.schema}.session_leases WHERE session_id = $1 AND NOT released AND expires_at > now()`,
      [sessionId],
    )
    return this.replicas.find((replica) => replica.name === rows[0]?.replica_id)
  }

  /** How many events the shared log holds for these sessions, and their text's size; null on SQLite. */
  async eventsOf(sessionIds: string[]): Promise<{ count: number; bytes: number } | null> {
    if (this.spec.store !== 'postgres') return null
    const { rows } = await this.admin.query<{ count: string; bytes: string | null }>(
      `SELECT count(*), sum(octet_length(event)) AS bytes FROM ${this.schema}.events WHERE session_id = ANY($1)`,
      [sessionIds],
    )
    return { count: Number(rows[0]!.count), bytes: Number(rows[0]!.bytes ?? 0) }
  }

  /** SIGKILL to the replica and its Claude Code processes, as when its pod dies. */
  async kill(replica: Replica): Promise<void> {
    const tree = await descendants(replica.pid)
    process.kill(replica.pid, 'SIGKILL')
    for (const pid of tree) {
      try {
        process.kill(pid, 'SIGKILL')
      } catch {
        // gone already
      }
    }
  }

  /** A killed replica started again under its name (a new incarnation, as a restarted pod). */
  async restart(replica: Replica): Promise<void> {
    const index = this.replicas.indexOf(replica)
    await replica.stop()
    this.replicas[index] = await this.startReplica(replica.name)
  }

  async stop(): Promise<void> {
    await Promise.all(this.replicas.map((replica) => replica.stop()))
    if (this.spec.store === 'postgres')
      await this.admin.query(`DROP SCHEMA IF EXISTS ${this.schema} CASCADE`).catch(() => {})
  }
}

/** `concurrency` workers, each sending its next request as soon as its last is answered; `total` in all. */
async function closedLoop(
  concurrency: number,
  total: number,
  request: (worker: number, index: number) => Promise<void>,
): Promise<{ latencies: number[]; wallMs: number; failures: string[] }> {
  const latencies: number[] = []
  const failures: string[] = []
  let next = 0
  const began = performance.now()
  const worker = async (id: number) => {
    while (next < total) {
      const index = next++
      const started = performance.now()
      try {
        await request(id, index)
        latencies.push(performance.now() - started)
      } catch (error) {
        failures.push((error as Error).message)
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, total) }, (_, id) => worker(id)))
  return { latencies, wallMs: performance.now() - began, failures }
}

/** The machine's busy and total CPU time since boot, in ticks (/proc/stat's first line). */
async function machineTicks(): Promise<{ busy: number; total: number }> {
  const first = (await readFile('/proc/stat', 'utf8')).split('\n')[0]!
  // user nice system idle iowait irq softirq steal
  const ticks = first.trim().split(/\s+/).slice(1, 9).map(Number)
  const total = ticks.reduce((a, b) => a + b, 0)
  return { busy: total - ticks[3]! - ticks[4]!, total }
}

/** PostgreSQL's and Redis's processes on this machine (their CPU is the cluster's too). */
async function servicePids(): Promise<number[]> {
  const found: number[] = []
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    const name = (await readFile(`/proc/${entry}/comm`, 'utf8').catch(() => '')).trim()
    if (name === 'postgres' || name === 'redis-server') found.push(Number(entry))
  }
  return found
}

interface CpuMark {
  at: number
  replicasS: number
  servicesS: number
  selfS: number
  machine: { busy: number; total: number }
}

async function cpuMark(cluster: Cluster): Promise<CpuMark> {
  const [trees, services, self, machine] = await Promise.all([
    Promise.all(cluster.replicas.map((replica) => treeUsage(replica.pid))),
    servicePids().then(usageOf),
    processCpu(process.pid),
    machineTicks(),
  ])
  return {
    at: performance.now(),
    replicasS: trees.reduce((sum, tree) => sum + tree.cpuS, 0),
    servicesS: services.cpuS,
    selfS: self.ownS,
    machine,
  }
}

/** Busy cores over a phase: the replicas' trees, PostgreSQL and Redis, this process, the whole machine. */
interface Busy {
  replicas: number
  services: number
  self: number
  machine: number
}

function busyBetween(start: CpuMark, end: CpuMark): Busy {
  const seconds = (end.at - start.at) / 1000
  const ticks = end.machine.total - start.machine.total
  return {
    replicas: (end.replicasS - start.replicasS) / seconds,
    services: (end.servicesS - start.servicesS) / seconds,
    self: (end.selfS - start.selfS) / seconds,
    machine: ticks > 0 ? ((end.machine.busy - start.machine.busy) / ticks) * cpus().length : Number.NaN,
  }
}

interface Phase {
  latencies: number[]
  perSecond: number
  busy: Busy
  failures: string[]
}

async function measured(cluster: Cluster, run: () => ReturnType<typeof closedLoop>): Promise<Phase> {
  const start = await cpuMark(cluster)
  const { latencies, wallMs, failures } = await run()
  const busy = busyBetween(start, await cpuMark(cluster))
  return { latencies, perSecond: (latencies.length * 1000) / wallMs, busy, failures }
}

interface Memory {
  gatewayMb: number[]
  cliMb: number[]
  cliProcesses: number[]
}

async function memoryOf(cluster: Cluster): Promise<Memory> {
  const memory: Memory = { gatewayMb: [], cliMb: [], cliProcesses: [] }
  for (const replica of cluster.replicas) {
    memory.gatewayMb.push(await rssMb(replica.pid))
    const clis = await usageOf(await descendants(replica.pid))
    memory.cliMb.push(clis.rssMb)
    memory.cliProcesses.push(clis.processes)
  }
  return memory
}

/** A session created and given its first turn through the replicas in turn; its id. */
async function startedSession(cluster: Cluster, conversations: Conversations, name: string): Promise<string> {
  const created = expect(
    await send(cluster.next().url, 'POST', '/api/sessions', { title: name }),
    201,
    'POST /api/sessions',
  )
  const id = String(created.id)
  expect(
    await send(cluster.next().url, 'POST', `/api/sessions/${id}/messages`, {
      content: conversations.first(name),
    }),
    200,
    `first message of ${name}`,
  )
  return id
}

interface Throughput {
  fresh: Phase
  followUps: Phase
  memory: Memory
  /** Sessions of (b), still live: the forwarding rounds use them. */
  sessions: { id: string; name: string }[]
  /** Events stored for (b)'s sessions (their first turns and follow-ups); null on SQLite. */
  events: { count: number; bytes: number } | null
}

/** (a) new conversations, then (b) follow-ups, through every replica in turn. */
async function throughput(
  cluster: Cluster,
  conversations: Conversations,
  options: ReplicasOptions,
  label: string,
): Promise<Throughput> {
  conversations.paced = true
  // Unmeasured: one conversation per replica runs its code once and uses its first spare.
  const warm: string[] = []
  for (let i = 0; i < cluster.replicas.length; i++)
    warm.push(await startedSession(cluster, conversations, `${label}-warm-${i}`))

  const created: string[] = [...warm]
  const fresh = await measured(cluster, () =>
    closedLoop(options.concurrency, options.newConversations, async (_, index) => {
      created.push(await startedSession(cluster, conversations, `${label}-a-${index}`))
    }),
  )
  console.log(
    `[replicas] ${label} (a): ${fresh.latencies.length} new conversations, ${fresh.perSecond.toFixed(2)}/s, ${fresh.failures.length} failed`,
  )
  // Their processes stopped, so that (b) starts from the same pool on every configuration.
  for (const id of created)
    expect(await send(cluster.next().url, 'DELETE', `/api/sessions/${id}`), 204, 'DELETE')

  const sessions: { id: string; name: string }[] = []
  for (let worker = 0; worker < options.concurrency; worker++) {
    const name = `${label}-b-${worker}`
    sessions.push({ id: await startedSession(cluster, conversations, name), name })
  }
  const sent = new Array<number>(options.concurrency).fill(0)
  const followUps = await measured(cluster, () =>
    closedLoop(options.concurrency, options.followUps, async (worker) => {
      const session = sessions[worker]!
      expect(
        await send(cluster.next().url, 'POST', `/api/sessions/${session.id}/messages`, {
          content: conversations.followUp(session.name, ++sent[worker]!),
        }),
        200,
        `follow-up of ${session.name}`,
      )
    }),
  )
  console.log(
    `[replicas] ${label} (b): ${followUps.latencies.length} follow-ups, ${followUps.perSecond.toFixed(2)}/s, ${followUps.failures.length} failed`,
  )
  const events = await cluster.eventsOf(sessions.map((session) => session.id))
  return { fresh, followUps, memory: await memoryOf(cluster), sessions, events }
}

interface Forwarding {
  ownerMs: number[]
  forwardedMs: number[]
  routeOwnerMs: number[]
  routeForwardedMs: number[]
  failures: string[]
}

/** The same request to the session's owner and through a replica that is not, pair after pair. */
async function forwarding(
  cluster: Cluster,
  conversations: Conversations,
  sessions: { id: string; name: string }[],
  options: ReplicasOptions,
): Promise<Forwarding> {
  conversations.paced = false
  const result: Forwarding = {
    ownerMs: [],
    forwardedMs: [],
    routeOwnerMs: [],
    routeForwardedMs: [],
    failures: [],
  }
  const timed = async (work: () => Promise<void>): Promise<number> => {
    const started = performance.now()
    await work()
    return performance.now() - started
  }
  let k = 1_000
  const pairs = async (
    count: number,
    request: (url: string, session: { id: string; name: string }) => Promise<void>,
    ownerMs: number[],
    forwardedMs: number[],
  ) => {
    for (let i = 0; i < count; i++) {
      const session = sessions[i % sessions.length]!
      try {
        const owner = await cluster.ownerOf(session.id)
        if (!owner) throw new Error(`${session.name} has no owner`)
        const others = cluster.replicas.filter((replica) => replica !== owner)
        const other = others[i % others.length]!
        // The order alternates, so that neither side is always the first after a pause.
        if (i % 2 === 0) {
          ownerMs.push(await timed(() => request(owner.url, session)))
          forwardedMs.push(await timed(() => request(other.url, session)))
        } else {
          forwardedMs.push(await timed(() => request(other.url, session)))
          ownerMs.push(await timed(() => request(owner.url, session)))
        }
      } catch (error) {
        result.failures.push((error as Error).message)
      }
    }
  }
  await pairs(
    options.forwardPairs,
    async (url, session) => {
      expect(
        await send(url, 'POST', `/api/sessions/${session.id}/messages`, {
          content: conversations.followUp(session.name, ++k),
        }),
        200,
        `follow-up of ${session.name}`,
      )
    },
    result.ownerMs,
    result.forwardedMs,
  )
  await pairs(
    options.routePairs,
    async (url, session) => {
      expect(await send(url, 'GET', `/api/sessions/${session.id}/permissions`), 200, 'GET permissions')
    },
    result.routeOwnerMs,
    result.routeForwardedMs,
  )
  return result
}

interface Failover {
  ttlMs: number
  killToAnswerMs: number[]
  answeringMs: number[]
  refused: number[]
  failures: string[]
}

/** An owner killed, its session's next message retried through a survivor until answered; `times` times. */
async function failover(
  home: TestHome,
  cliPath: string,
  conversations: Conversations,
  options: ReplicasOptions,
  ttlMs: number,
  fromSource: boolean,
  admin: pg.Pool,
  random: () => number,
): Promise<Failover> {
  conversations.paced = true
  const label = `ttl${ttlMs}`
  const result: Failover = { ttlMs, killToAnswerMs: [], answeringMs: [], refused: [], failures: [] }
  const cluster = await Cluster.start(
    home,
    cliPath,
    { label, replicas: 3, store: 'postgres', leaseTtlMs: ttlMs, maxRunners: options.maxRunners },
    fromSource,
    admin,
  )
  try {
    for (let i = 0; i < options.failovers; i++) {
      try {
        const name = `${label}-${i}`
        const id = await startedSession(cluster, conversations, name)
        const victim = await cluster.ownerOf(id)
        if (!victim) throw new Error(`${name} has no owner after its first turn`)
        const survivor = cluster.replicas.find((replica) => replica !== victim)!
        // Anywhere in the heartbeat (a third of the TTL): how long the lease has left varies with it.
        await sleep(random() * (ttlMs / 3))
        const killedAt = performance.now()
        await cluster.kill(victim)
        let refused = 0
        for (;;) {
          const sentAt = performance.now()
          const answer = await send(survivor.url, 'POST', `/api/sessions/${id}/messages`, {
            content: conversations.followUp(name, 1),
          })
          if (answer.status === 503 && performance.now() - killedAt < ttlMs + 60_000) {
            refused++
            await sleep((answer.retryAfterS ?? 1) * 1000)
            continue
          }
          expect(answer, 200, `follow-up of ${name} after its owner died`)
          const answeredAt = performance.now()
          result.killToAnswerMs.push(answeredAt - killedAt)
          result.answeringMs.push(answeredAt - sentAt)
          result.refused.push(refused)
          break
        }
        await cluster.restart(victim)
        console.log(
          `[replicas] failover ${i + 1}/${options.failovers}, leaseTtlMs ${ttlMs}: ${((result.killToAnswerMs.at(-1) ?? Number.NaN) / 1000).toFixed(1)} s`,
        )
      } catch (error) {
        result.failures.push((error as Error).message)
      }
    }
  } finally {
    await cluster.stop()
  }
  return result
}

/** What the throughput phases compare; every replica gets `options.maxRunners`. */
type Configuration = Omit<ClusterSpec, 'maxRunners'>

const CONFIGS: Configuration[] = [
  { label: 'sqlite', replicas: 1, store: 'sqlite' },
  { label: 'n1', replicas: 1, store: 'postgres' },
  { label: 'n2', replicas: 2, store: 'postgres' },
  { label: 'n3', replicas: 3, store: 'postgres' },
]

const configName = (spec: Configuration) =>
  spec.store === 'sqlite'
    ? 'SQLite, 1 gateway'
    : `PostgreSQL, ${spec.replicas} replica${spec.replicas > 1 ? 's' : ''}`

const cores = (value: number) => value.toFixed(2)

export async function runReplicas(options: ReplicasOptions = defaultReplicasOptions()): Promise<BenchResult> {
  const unreachable = await servicesSkip('replicas bench', { postgres: true, redis: true })
  if (unreachable) throw new Error(`replicas needs PostgreSQL and Redis: ${unreachable}`)
  const began = performance.now()
  const stale = staleBuild()
  const fromSource = stale !== null
  const home = await testHome()
  const conversations = new Conversations(options)
  home.model.fallback = (request) => conversations.reply(request.body)
  const cliPath = await bundledClaudeCli()
  const admin = new pg.Pool({ connectionString: POSTGRES_URL, max: 2 })
  admin.on('error', () => {})
  const random = seeded(options.seed)
  const rows: Row[] = []
  const ratios: Ratio[] = []
  const notes: string[] = []
  const failures: string[] = []
  try {
    let forwarded: Forwarding | null = null
    for (const spec of CONFIGS) {
      const cluster = await Cluster.start(
        home,
        cliPath,
        { ...spec, maxRunners: options.maxRunners },
        fromSource,
        admin,
      )
      try {
        const name = configName(spec)
        const measuredHere = await throughput(cluster, conversations, options, spec.label)
        const phases = [
          ['(a) new conversation', measuredHere.fresh],
          ['(b) follow-up', measuredHere.followUps],
        ] as const
        for (const [what, phase] of phases) {
          const b = phase.busy
          rows.push(
            {
              name: `${name}: ${what}`,
              unit: 'ms',
              samples: phase.latencies,
              note: `busy cores: replicas ${cores(b.replicas)}, PostgreSQL+Redis ${cores(b.services)}, client+model ${cores(b.self)}, machine ${cores(b.machine)}`,
            },
            { name: `${name}: ${what}, throughput`, unit: REQ_PER_S, samples: [phase.perSecond] },
            {
              name: `${name}: ${what}, per busy core of the replicas`,
              unit: REQ_PER_S,
              samples: [phase.perSecond / b.replicas],
              note: `per busy core of the machine ${(phase.perSecond / b.machine).toFixed(2)} req/s`,
            },
          )
          failures.push(...phase.failures.map((failure) => `${name} ${what}: ${failure}`))
        }
        const { memory, events } = measuredHere
        if (events !== null) {
          const perTurn = events.count / (options.concurrency + options.followUps)
          notes.push(
            `${name}: ${perTurn.toFixed(1)} events stored per turn of (b), ${(events.bytes / events.count).toFixed(0)} bytes of text each, so ${(perTurn * measuredHere.followUps.perSecond).toFixed(0)} events/s written to PostgreSQL during (b)`,
          )
        }
        rows.push(
          {
            name: `${name}: gateway RSS, each replica`,
            unit: 'MB',
            samples: memory.gatewayMb,
            note: 'at the end of (b)',
          },
          {
            name: `${name}: its Claude Code processes, each replica`,
            unit: 'MB',
            samples: memory.cliMb,
            note: `${memory.cliProcesses.join(' + ')} processes (${options.concurrency} live sessions in all, and the spares)`,
          },
        )
        if (spec.replicas === 3 && spec.store === 'postgres')
          forwarded = await forwarding(cluster, conversations, measuredHere.sessions, options)
      } finally {
        await cluster.stop()
      }
    }
    for (const what of ['(a) new conversation', '(b) follow-up']) {
      const throughputOf = (spec: Configuration) => `${configName(spec)}: ${what}, throughput`
      const [sqlite, n1, n2, n3] = CONFIGS as [Configuration, Configuration, Configuration, Configuration]
      ratios.push(
        { name: `${what} req/s, 2 replicas / 1`, numerator: throughputOf(n2), denominator: throughputOf(n1) },
        { name: `${what} req/s, 3 replicas / 1`, numerator: throughputOf(n3), denominator: throughputOf(n1) },
        {
          name: `${what} req/s, 1 replica on PostgreSQL / SQLite`,
          numerator: throughputOf(n1),
          denominator: throughputOf(sqlite),
        },
      )
    }

    if (forwarded) {
      const difference = (a: number[], b: number[]) => a.map((value, i) => value - b[i]!)
      rows.push(
        {
          name: 'follow-up to its owner',
          unit: 'ms',
          samples: forwarded.ownerMs,
          note: 'the model answers at once',
        },
        { name: 'follow-up through a non-owner', unit: 'ms', samples: forwarded.forwardedMs },
        {
          name: 'follow-up: forwarded − direct, by pair',
          unit: 'ms',
          samples: difference(forwarded.forwardedMs, forwarded.ownerMs),
        },
        { name: 'GET /api/sessions/{id}/permissions, owner', unit: 'ms', samples: forwarded.routeOwnerMs },
        {
          name: 'GET /api/sessions/{id}/permissions, non-owner',
          unit: 'ms',
          samples: forwarded.routeForwardedMs,
        },
        {
          name: 'GET permissions: forwarded − direct, by pair',
          unit: 'ms',
          samples: difference(forwarded.routeForwardedMs, forwarded.routeOwnerMs),
        },
      )
      ratios.push(
        {
          name: 'follow-up forwarded / direct',
          numerator: 'follow-up through a non-owner',
          denominator: 'follow-up to its owner',
        },
        {
          name: 'follow-up forwarded / direct',
          numerator: 'follow-up through a non-owner',
          denominator: 'follow-up to its owner',
          percentile: 99,
        },
      )
      const spreadOf = (samples: number[]) => {
        const s = summarize(samples)
        return `p50 ${s.median.toFixed(2)} / p99 ${s.p99.toFixed(2)} ms`
      }
      notes.push(
        `forwarding adds ${spreadOf(difference(forwarded.forwardedMs, forwarded.ownerMs))} to a follow-up, ${spreadOf(difference(forwarded.routeForwardedMs, forwarded.routeOwnerMs))} to a cheap owned route (paired differences, 3 replicas)`,
      )
      failures.push(...forwarded.failures.map((failure) => `forwarding: ${failure}`))
    }

    for (const ttlMs of [DEFAULT_LEASE_TTL_MS, options.shortTtlMs]) {
      const measuredHere = await failover(
        home,
        cliPath,
        conversations,
        options,
        ttlMs,
        fromSource,
        admin,
        random,
      )
      rows.push(
        {
          name: `failover, leaseTtlMs ${ttlMs}: owner killed → answer`,
          unit: 'ms',
          samples: measuredHere.killToAnswerMs,
          note: `503s before the answer: ${measuredHere.refused.join(', ')} (retried after Retry-After)`,
        },
        {
          name: `failover, leaseTtlMs ${ttlMs}: the answered request alone`,
          unit: 'ms',
          samples: measuredHere.answeringMs,
          note: 'takeover, a Claude Code start resuming from PostgreSQL, the turn',
        },
      )
      failures.push(...measuredHere.failures.map((failure) => `failover (${ttlMs} ms): ${failure}`))
    }
    failures.push(...conversations.wrong)
  } finally {
    await admin.end()
    await home.close()
  }

  notes.unshift(
    `gateway: ${fromSource ? `node --import tsx src/cli.ts (from source: ${stale})` : 'node dist/cli.js'}, one process per replica, log level info to a file, pool.maxRunners ${options.maxRunners}, the pool's other defaults (one warm spare, up to 5 after a burst); each replica its own CLAUDE_CONFIG_DIR and data folder, the workspace shared`,
    `load: closed loop of ${options.concurrency} requests in flight, each HTTP request to the next replica in turn; ${options.newConversations} new conversations and ${options.followUps} follow-ups per configuration; answers of ${options.tokens} text deltas ${options.tokenMs} ms apart, as JSON`,
    'busy cores: CPU seconds per second over the phase; replicas = every replica process and its Claude Code processes (/proc), PostgreSQL+Redis = their processes, client+model = this process, machine = /proc/stat',
  )
  notes.push(
    failures.length === 0
      ? 'every request answered, every follow-up reached the model with its session’s first message'
      : `${failures.length} FAILED: ${failures.slice(0, 8).join('; ')}`,
  )
  const result: BenchResult = {
    title: 'Replicas on PostgreSQL and Redis: throughput, forwarding, failover',
    rows,
    ratios,
    targets: [],
    notes,
    elapsedMs: performance.now() - began,
    p99: true,
  }
  if (failures.length > 0) {
    console.log(render(result).join('\n'))
    throw new Error(`replicas: ${failures.length} requests or checks failed (first: ${failures[0]})`)
  }
  return result
}

await main(import.meta.url, () => runReplicas())
