/**
 * The turn line and runner binding over fake Claude Code processes (the pool's `launch` seam): turns start,
 * end with Claude Code's result, time out, are interrupted, end with their process; clocks and the line.
 */
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { type TestContext, test } from 'node:test'
import type { SDKMessage } from '@anthropic-ai/claude-agent-sdk'
import pino from 'pino'
import { type LiveSession, liveSession, type SessionContext } from '../../src/engine/live-session.js'
import { ProcessPool } from '../../src/engine/pool.js'
import type { Runner, RunnerExit, RunnerHooks } from '../../src/engine/runner.js'
import { RunnerBinding } from '../../src/engine/runners.js'
import { TurnLine } from '../../src/engine/turns.js'
import type { EngineLimits, EngineOptions, RunnerLauncher } from '../../src/engine/types.js'
import type { EventBody, GatewayEvent } from '../../src/events/types.js'
import type { SessionRecord } from '../../src/store/types.js'
import { sessionRecord } from '../support/session-record.js'
import { waitUntil } from '../support/wait.js'

/** A Claude Code process that answers nothing by itself: the test says what it reports. */
class FakeRunner {
  readonly id = randomUUID()
  state: Runner['state'] = 'ready'
  idleSince = Date.now()
  readonly cwd = '/tmp'
  readonly pid = 4242
  readonly apiMs = 0
  readonly sent: string[] = []
  interrupts = 0
  /** What an interrupt does: by default Claude Code stops the turn at once. */
  onInterrupt: () => void = () => this.result({ interrupted: true })
  hooks: RunnerHooks | null = null
  readonly exited: Promise<RunnerExit>
  /** The process leaves its conversation only by exiting here (no reuse). */
  readonly conversationEnded: Promise<void>
  private exit!: (exit: RunnerExit) => void

  constructor(readonly key: string) {
    this.exited = new Promise((resolve) => {
      this.exit = resolve
    })
    this.conversationEnded = this.exited.then(() => undefined)
  }

  attach(hooks: RunnerHooks): void {
    this.hooks = hooks
  }

  send(): string {
    const uuid = randomUUID()
    this.sent.push(uuid)
    return uuid
  }

  async interrupt(): Promise<void> {
    this.interrupts++
    this.onInterrupt()
  }

  kill(): void {
    this.die({ code: null, signal: 'SIGKILL', stderr: '' })
  }

  async close(): Promise<RunnerExit> {
    if (this.state !== 'closed') this.die({ code: 0, signal: null, stderr: '' })
    return this.exited
  }

  die(exit: RunnerExit): void {
    if (this.state === 'closed') return
    this.state = 'closed'
    this.exit(exit)
    this.hooks?.onExit(exit)
  }

  emit(message: unknown): void {
    this.hooks?.onMessage(message as SDKMessage)
  }

  result(options: { interrupted?: boolean } = {}): void {
    const usage = { input_tokens: 10, output_tokens: 5 }
    const common = { duration_ms: 5, duration_api_ms: 5, num_turns: 1, total_cost_usd: 0.01, usage }
    const rest = { modelUsage: {}, permission_denials: [], uuid: randomUUID(), session_id: 'claude-1' }
    this.emit(
      options.interrupted
        ? {
            type: 'result',
            subtype: 'error_during_execution',
            is_error: true,
            stop_reason: null,
            errors: [],
            terminal_reason: 'aborted_streaming',
            ...common,
            ...rest,
          }
        : {
            type: 'result',
            subtype: 'success',
            is_error: false,
            result: 'done',
            stop_reason: 'end_turn',
            ...common,
            ...rest,
          },
    )
  }

  supportedAgents = async () => []
  supportedModels = async () => []
  supportedCommands = async () => []
}

const limits: EngineLimits = {
  maxRunners: 2,
  warmSpares: 0,
  queueSize: 2,
  queueTimeoutMs: 1_000,
  startTimeoutMs: 1_000,
  startRetries: 0,
  primeSpares: false,
  idleTimeoutMs: 0,
  turnTimeoutMs: 0,
  sessionQueueSize: 4,
  permissionTimeoutMs: 0,
  clientToolTimeoutMs: 0,
  tools: {},
}

const record = (id = randomUUID()): SessionRecord => sessionRecord(id, {}, { askPermissions: true })

/** A turn line over fake processes; every event published is kept in `events`. */
function engine(t: TestContext, overrides: Partial<EngineLimits> = {}) {
  const events: EventBody[] = []
  const runners: FakeRunner[] = []
  const log = pino({ level: 'silent' })
  const publish = (body: EventBody): GatewayEvent => {
    events.push(body)
    return { ...body, seq: events.length, ts: Date.now(), sessionId: 's' } as GatewayEvent
  }
  const launch: RunnerLauncher = async (profile) => {
    const runner = new FakeRunner(profile.key)
    runners.push(runner)
    return runner as unknown as Runner
  }
  const engineLimits = { ...limits, ...overrides }
  const live = new Map<string, LiveSession>()
  const pool: ProcessPool = new ProcessPool(
    engineLimits,
    { evict: (runner) => binding.evict(runner), lifecycle: () => undefined },
    log,
    launch,
  )
  const host = { cliPath: undefined, env: {}, settingSources: [], niceness: 0 }
  const context: SessionContext = {
    options: {
      log,
      host,
      bus: { publish: (_id: string, body: EventBody) => publish(body) },
    } as unknown as EngineOptions,
    limits: engineLimits,
    pool,
    live,
    closing: false,
    claudeConfigDir: '/tmp/no-claude-config',
    account: async () => null,
    configDirOf: () => '/tmp/no-claude-config',
    publish: (_session, body) => publish(body),
    setState(session, state, reason) {
      const previous = session.record.state
      if (previous === state) return
      session.record.state = state
      publish({ type: 'session.state', state, previous, ...(reason ? { reason } : {}) })
    },
    save: () => undefined,
  }
  const binding = new RunnerBinding(context)
  const turns = new TurnLine(context, binding)
  t.after(() => pool.close())
  const open = () => {
    const session: LiveSession = liveSession(record(), (body) => publish(body))
    live.set(session.record.id, session)
    return session
  }
  return { events, runners, turns, binding, pool, live, open }
}

const ofType = <T extends EventBody['type']>(events: EventBody[], type: T) =>
  events.filter((event): event is Extract<EventBody, { type: T }> => event.type === type)

test("a turn starts on a new process and ends with Claude Code's result", async (t) => {
  const { events, runners, turns, open } = engine(t)
  const session = open()
  const turn = await turns.start(session, 'hello', {})
  assert.equal(session.record.state, 'running')
  assert.equal(runners[0]?.state, 'busy')
  assert.deepEqual(ofType(events, 'turn.started')[0], {
    type: 'turn.started',
    turnId: turn.id,
    content: 'hello',
  })
  runners[0]?.result()
  const completed = await turn.done
  assert.equal(completed.status, 'success')
  assert.equal(completed.result, 'done')
  assert.equal(session.active, null)
  assert.equal(session.record.state, 'idle')
  assert.equal(session.record.turns, 1)
  assert.equal(session.record.usage.inputTokens, 10)
  assert.equal(runners[0]?.state, 'ready')
})

test('a turn past its time limit is announced, interrupted, and ends with turn_timeout', async (t) => {
  const { events, runners, turns, open } = engine(t, { turnTimeoutMs: 30 })
  const session = open()
  const turn = await turns.start(session, 'slow', {})
  const completed = await turn.done
  assert.equal(runners[0]?.interrupts, 1)
  assert.equal(completed.status, 'error')
  assert.equal(completed.error?.code, 'turn_timeout')
  assert.deepEqual(
    ofType(events, 'error').map((error) => error.code),
    ['turn_timeout'],
  )
})

test('an interrupt ends the turn as interrupted', async (t) => {
  const { runners, turns, open } = engine(t)
  const session = open()
  const turn = await turns.start(session, 'stop me', {})
  assert.equal(await turns.interrupt(session), true)
  assert.equal((await turn.done).status, 'interrupted')
  assert.equal(runners[0]?.interrupts, 1)
  assert.equal(await turns.interrupt(session), false)
})

test('a process that dies mid-turn ends it with process_exited; its permission requests are denied', async (t) => {
  const { runners, turns, open } = engine(t)
  const session = open()
  const turn = await turns.start(session, 'hello', {})
  const runner = runners[0]!
  const permission = runner.hooks!.onPermission({
    toolName: 'Bash',
    input: {},
    toolUseID: 'tu1',
    signal: new AbortController().signal,
  } as never)
  assert.equal(session.permissions.pending().length, 1)
  runner.die({ code: 1, signal: null, stderr: 'boom' })
  const completed = await turn.done
  assert.equal(completed.error?.code, 'process_exited')
  assert.match(completed.error?.message ?? '', /code 1.*boom/)
  assert.deepEqual(await permission, { behavior: 'deny', message: 'Claude Code exited' })
  assert.equal(session.runner, null)
  assert.equal(session.record.state, 'new')
})

test('a client call stops the turn clock until its result is in', async (t) => {
  const { runners, turns, open } = engine(t, { turnTimeoutMs: 60_000 })
  const session = open()
  const turn = await turns.start(session, 'call', {})
  const result = runners[0]!.hooks!.onClientTool({
    toolUseId: 'tu1',
    name: 'lookup',
    input: {},
    signal: new AbortController().signal,
  })
  assert.equal(session.active?.timer, null)
  turns.resumeClock(session)
  assert.equal(session.active?.timer, null, 'the clock waits while a call does')
  session.clientCalls.deliver('tu1', { content: '42' })
  assert.deepEqual(await result, { content: '42' })
  turns.resumeClock(session)
  assert.notEqual(session.active?.timer, null)
  runners[0]!.result()
  await turn.done
})

test('turns wait in line; the session leaves memory once the line is empty and it holds no process', async (t) => {
  const { turns, binding, live, open } = engine(t)
  const session = open()
  const first = turns.holdLine(session)
  const second = turns.holdLine(session)
  assert.equal(session.pending, 2)
  first()
  assert.equal(live.has(session.record.id), true)
  second()
  assert.equal(session.pending, 0)
  assert.equal(live.has(session.record.id), false)
  assert.equal(binding.evict({} as Runner), true, 'a runner of no session may go')
})

test('the pool may evict an idle session, not a busy one', async (t) => {
  const { runners, turns, binding, live, open } = engine(t)
  const session = open()
  const turn = await turns.start(session, 'hello', {})
  const runner = runners[0] as unknown as Runner
  assert.equal(binding.evict(runner), false)
  runners[0]!.result()
  await turn.done
  assert.equal(binding.evict(runner), true)
  assert.equal(session.runner, null)
  assert.equal(session.record.state, 'new')
  assert.equal(live.has(session.record.id), false)
})

test('release lets the process go and hibernates an idle session', async (t) => {
  const { runners, turns, binding, open } = engine(t)
  const session = open()
  const turn = await turns.start(session, 'hello', {})
  runners[0]!.result()
  await turn.done
  await binding.release(session, 'hibernated')
  await waitUntil(() => runners[0]?.state === 'closed')
  assert.equal(session.runner, null)
})
