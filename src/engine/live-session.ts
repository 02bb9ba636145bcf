/**
 * A session in memory while it is in use: its record, the runner it borrowed, its running turn and the turns
 * waiting behind it, its permission requests and client calls. The parts of the session manager share these
 * and the `SessionContext` they all work through.
 */
import { EventRejectedError } from '../events/bus.js'
import type { ErrorCode, EventBody, GatewayEvent, SessionState } from '../events/types.js'
import { isStoreError } from '../store/errors.js'
import type { SessionRecord } from '../store/types.js'
import { claudeConfigDir } from './claude-home.js'
import { ClientCallMailbox } from './client-calls.js'
import { accountConfigDir } from './options.js'
import { PermissionBroker } from './permissions.js'
import type { ProcessPool } from './pool.js'
import type { RecordSaver } from './records.js'
import type { Runner } from './runner.js'
import type { ClaudeAccount, EngineLimits, EngineOptions, TurnCompleted } from './types.js'

export interface LiveSession {
  record: SessionRecord
  runner: Runner | null
  active: ActiveTurn | null
  /** Turns started or waiting for this session; the chain below serialises them. */
  pending: number
  tail: Promise<void>
  idleTimer: NodeJS.Timeout | null
  lastTurnId: string
  permissions: PermissionBroker
  /** Calls of client-executed functions in the running turn that have no result yet. */
  clientCalls: ClientCallMailbox
  /** The settings changed while a turn ran: the runner restarts with them once the turn ends. */
  restartAfterTurn: boolean
  /**
   * Another replica owns the session now (its lease was lost, src/engine/ownership.ts): nothing more of it
   * is published or saved here, and no turn of it starts.
   */
  disowned?: true
}

export interface ActiveTurn {
  id: string
  resolve(completed: TurnCompleted): void
  /** Settles when the turn has ended, with its `turn.completed` event. */
  done: Promise<TurnCompleted>
  timer: NodeJS.Timeout | null
  /**
   * Why the turn failed although Claude Code goes on (one of its events could not be kept, it ran too long,
   * Claude's API refused it): it ends so, whatever Claude Code reports once it has stopped.
   */
  failure: TurnFailure | null
  /** The uuid the user message went to Claude Code with: Claude Code says when it is done with it. */
  messageUuid: string
  /** A client asked to interrupt the turn. */
  interrupted: boolean
  /** How long Claude Code's retries may hold the turn without progress (0: as long as they take). */
  retryBudgetMs: number
  /** Since when the turn has been waiting for the model: its start, or its last progress. */
  waitingSince: number
  /** Claude Code's last retry of the model call the turn waits for (null once the model answered). */
  lastRetry: Extract<EventBody, { type: 'api.retry' }> | null
  /** Ends the turn when the retries outlast the budget. */
  retryTimer: NodeJS.Timeout | null
  /** How long the process stays after the turn when nothing follows (see `SendOptions`); absent: the limit. */
  idleTimeoutMs?: number
}

export interface TurnFailure {
  code: ErrorCode
  message: string
  /** When trying again later can succeed: how much later. */
  retryAfterMs?: number
}

/** What the parts of the session manager share: its options, sessions in memory, pool, and the few acts. */
export interface SessionContext {
  readonly options: EngineOptions
  /** The limits now (settings reload changes them). */
  readonly limits: EngineLimits
  readonly pool: ProcessPool
  readonly live: Map<string, LiveSession>
  /** The gateway is shutting down: no turn starts any more. */
  readonly closing: boolean
  /** Claude Code's config folder as the CLI processes see it. */
  readonly claudeConfigDir: string
  /** The credential set an owner's sessions run with (null: the host's). */
  account(owner: string | null): Promise<ClaudeAccount | null>
  /** Claude Code's config folder as an account's processes see it: where their sessions' transcripts are. */
  configDirOf(account: ClaudeAccount | null): string
  /** Publish an event of the session's own doing; null when it could not be kept (its turn fails then). */
  publish(live: LiveSession, body: EventBody): GatewayEvent | null
  setState(live: LiveSession, state: SessionState, reason?: string): void
  /** Save the session's record (never throws). */
  save(live: LiveSession): void
}

/** An event of a session could not be kept (the turn line fails its turn). */
export type RejectionHandler = (live: LiveSession, turnId: string | undefined, error: Error) => void

/**
 * The sessions in memory, and the acts every part does on one: publish, change its state, save it. An event
 * of theirs that could not be kept, published here or by others, goes to `rejected`.
 */
export class LiveSessions implements SessionContext {
  readonly live: Map<string, LiveSession>
  closing = false

  constructor(
    readonly options: EngineOptions,
    public limits: EngineLimits,
    readonly pool: ProcessPool,
    private readonly records: RecordSaver,
    private readonly rejected: RejectionHandler,
    /** A session left memory (whichever part let it go): its lease may go (src/engine/ownership.ts). */
    left: (sessionId: string) => void = () => {},
  ) {
    this.live = new LiveMap(left)
    // An event the store refused was seen live but is not kept: its turn fails, saying so.
    options.bus.onEventRejected((event, error) => {
      const live = this.live.get(event.sessionId)
      if (live) this.rejected(live, 'turnId' in event ? event.turnId : undefined, error)
      else options.log.error({ err: error, session: event.sessionId, seq: event.seq }, 'event not stored')
    })
  }

  get claudeConfigDir(): string {
    return claudeConfigDir(this.options.host.env)
  }

  async account(owner: string | null): Promise<ClaudeAccount | null> {
    return (await this.options.account?.(owner)) ?? null
  }

  configDirOf(account: ClaudeAccount | null): string {
    return accountConfigDir(this.options.host, account)
  }

  /** A session's live state, made from its record (not registered: `live` holds the sessions in use). */
  wrap(record: SessionRecord): LiveSession {
    const live: LiveSession = liveSession(record, (body) => this.publish(live, body))
    return live
  }

  /**
   * Publish an event of a session's own doing (Claude Code's output, a state change). One that cannot be
   * kept fails its turn instead of the caller: null then.
   */
  publish(live: LiveSession, body: EventBody): GatewayEvent | null {
    if (live.disowned) return null
    try {
      return this.options.bus.publish(live.record.id, body)
    } catch (error) {
      if (!(error instanceof EventRejectedError) && !isStoreError(error)) throw error
      this.rejected(live, 'turnId' in body ? body.turnId : undefined, error)
      return null
    }
  }

  setState(live: LiveSession, state: SessionState, reason?: string): void {
    const previous = live.record.state
    if (previous === state || live.disowned) return
    live.record.state = state
    this.save(live)
    this.publish(live, { type: 'session.state', state, previous, ...(reason ? { reason } : {}) })
  }

  save(live: LiveSession): void {
    if (live.disowned) return
    live.record.updatedAt = Date.now()
    this.records.save(live.record)
  }
}

/** The sessions in memory, telling `left` of each that leaves, whichever part lets it go. */
class LiveMap extends Map<string, LiveSession> {
  constructor(private readonly left: (sessionId: string) => void) {
    super()
  }

  override delete(sessionId: string): boolean {
    const had = super.delete(sessionId)
    if (had) this.left(sessionId)
    return had
  }
}

export function liveSession(
  record: SessionRecord,
  publish: (body: EventBody) => GatewayEvent | null,
): LiveSession {
  return {
    record,
    runner: null,
    active: null,
    pending: 0,
    tail: Promise.resolve(),
    idleTimer: null,
    lastTurnId: '',
    permissions: new PermissionBroker(publish),
    clientCalls: new ClientCallMailbox(),
    restartAfterTurn: false,
  }
}
