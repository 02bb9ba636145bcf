/**
 * POST /v1/chat/completions: one request is one turn of a Claude Code session (or the rest of a turn that
 * stopped on client function calls). The status is chosen only once the turn shows progress, so start-up
 * and upstream failures are real HTTP errors; after the first byte an error travels as an SSE event.
 */
import { randomBytes } from 'node:crypto'
import type { FastifyPluginAsync } from 'fastify'
import { GatewayError } from '../../engine/errors.js'
import { OwnedElsewhereError } from '../../engine/ownership.js'
import { clientFunctionName } from '../../events/client-tool-names.js'
import { TurnFollower } from '../../events/follow.js'
import type { GatewayEvent } from '../../events/types.js'
import type { GatewayContext } from '../../gateway.js'
import { noteRequest, turnFigures } from '../../observability/request-log.js'
import { allowedSettings } from '../../users/policy.js'
import type { Principal } from '../../users/principal.js'
import { workspacesFor } from '../../users/workspaces.js'
import { interruptOnHangUp } from '../hang-up.js'
import { liveSession } from '../native/resolve.js'
import { sessionVisible } from '../native/visibility.js'
import { ref } from '../responses.js'
import { Answer, type AnswerOptions } from './answer.js'
import { type Exchange, respond, stream } from './chat-reply.js'
import { ChatCompletionSchema } from './completion-view.js'
import { ConversationIndex, type Conversations } from './conversations.js'
import { fromEngineError, invalidRequest, OpenAIError } from './errors.js'
import type { ModelCatalogue } from './models.js'
import { type ChatPlan, conversationKey, planRequest } from './request.js'
import { openaiErrors } from './responses.js'
import { ChatCompletionRequest } from './schema.js'

const CONVERSATIONS_REMEMBERED = 10_000

export const chatRoutes: FastifyPluginAsync<{ gateway: GatewayContext; catalogue: ModelCatalogue }> = async (
  app,
  { gateway, catalogue },
) => {
  const conversations: Conversations =
    gateway.cluster?.conversations ?? new ConversationIndex(CONVERSATIONS_REMEMBERED)
  app.addSchema(ChatCompletionSchema)

  app.post<{ Body: ChatCompletionRequest }>(
    '/chat/completions',
    {
      schema: {
        operationId: 'createChatCompletion',
        tags: ['openai'],
        summary: 'Chat completion (one Claude Code turn)',
        description:
          "OpenAI's Chat Completions contract; Claude Code options in extra_body. Reference: docs/openai.md.",
        body: ChatCompletionRequest,
        response: {
          200: {
            description:
              'A chat.completion, or with `stream: true` chat.completion.chunk events ending in [DONE].',
            content: {
              'application/json': { schema: ref('ChatCompletion') },
              // Written to the hijacked socket: documented, never serialised.
              'text/event-stream': {
                schema: {
                  type: 'string',
                  description: '`data: {chat.completion.chunk}` lines, then `data: [DONE]`.',
                },
              },
            },
          },
          ...openaiErrors({
            400: 'invalid_request_error: invalid or unsupported parameter, invalid JSON, context length exceeded.',
            401: 'invalid_api_key.',
            404: 'model_not_found.',
            409: 'conversation_busy.',
            413: 'request_too_large.',
            415: 'unsupported_media_type.',
            429: 'rate_limit_exceeded: every process busy, or the model API rate-limited.',
            500: 'server_error.',
            502: 'upstream_process_exited, upstream_error.',
            503:
              "service_unavailable, overloaded; storage_unavailable: the gateway's database cannot be used; " +
              'claude_not_authenticated: Claude Code is not logged in on the gateway (see GET /readyz).',
            504: 'timeout, tool_call_timeout.',
            507: "storage_full: the gateway's database has no space left.",
          }),
        },
      },
    },
    async (request, reply) => {
      const received = performance.now()
      const { body, principal } = request
      const workspaces = await workspacesFor(gateway, principal, 'openai')
      const user = principal.id === null ? undefined : await gateway.users.directory.user(principal.id)
      const plan = planRequest(body, gateway.config, catalogue.resolve(body.model), {
        workspaces,
        owner: principal.id,
        allowedTools: user?.allowedTools,
      })
      // What the caller's policy does not allow is refused (403) before any session is touched.
      plan.settings = await allowedSettings(gateway.config, gateway.users.directory, principal, plan.settings)
      const { sessionId, turnId, startSeq } = await dispatch(plan, principal)
      noteRequest(request, { sessionId, model: body.model })
      const exchange: Exchange = {
        id: `chatcmpl-${randomBytes(18).toString('base64url')}`,
        created: Math.floor(Date.now() / 1000),
        model: body.model,
        plan,
        sessionId,
        follower: new TurnFollower(gateway.bus, sessionId, turnId, startSeq),
        answer: new Answer({ ...answerOptions(plan), wholeTurn: plan.input.kind === 'user' }),
        cut: false,
        timing: { received, dispatched: performance.now(), firstEvent: 0 },
      }
      // A client that goes away before its answer is complete does not want the rest of the turn.
      const stopWatching = interruptOnHangUp(reply.raw, gateway, sessionId, () => exchange.answer.done)
      try {
        const first = await firstProgress(exchange)
        exchange.timing.firstEvent = performance.now()
        if (plan.stream) await stream(gateway, exchange, first, reply)
        else await respond(gateway, exchange, first, reply)
      } finally {
        exchange.follower.close()
        stopWatching()
      }
      const { answer } = exchange
      if (answer.completed) {
        const { apiDurationMs, ...figures } = turnFigures(answer.completed)
        // Its API time is this request's only if the request ran the whole turn (gateway_added_time_seconds),
        // not if it continued the turn with client function results.
        noteRequest(request, plan.input.kind === 'user' ? { ...figures, apiDurationMs } : figures)
      }
      if (answer.completed?.status === 'success' || answer.stopped || answer.handedOff) {
        await conversations.remember(
          conversationKey(plan.profileKey, [...plan.conversation, assistantMessage(answer)]),
          sessionId,
        )
      }
      return reply
    },
  )

  /**
   * Hand the request's new input to the engine: tool results continue the turn that waits for them, a user
   * message starts a turn. Returns where to follow the turn's events from.
   */
  async function dispatch(
    plan: ChatPlan,
    principal: Principal,
  ): Promise<{ sessionId: string; turnId: string; startSeq: number }> {
    const { engine } = gateway
    if (plan.input.kind === 'tool_results') {
      const named = plan.sessionId ?? (await continuation(plan.historyKey))
      // Another user's session waits for no results of this caller's: as if none waited.
      const sessionId =
        named !== undefined && (await sessionVisible(gateway, principal, named, false)) ? named : undefined
      const results = plan.input.results.map((r) => ({ toolUseId: r.toolCallId, content: r.content }))
      try {
        if (!sessionId) throw new GatewayError('invalid_request', 'no waiting turn')
        const { turnId, afterSeq } = engine.submitToolResults(sessionId, results)
        return { sessionId, turnId, startSeq: afterSeq + 1 }
      } catch (error) {
        if (!(error instanceof GatewayError) || error.code !== 'invalid_request') throw error
        throw invalidRequest(
          'No function call of this conversation is waiting for these tool results (it may have timed out, or the history does not match the conversation).',
          'messages',
          'tool_call_not_pending',
        )
      }
    }
    const { sessionId, continued } = await openSession(plan, principal)
    // New user input while function calls wait: the client moved on, so the waiting turn ends first.
    if (engine.pendingClientCalls(sessionId).length > 0) await engine.interrupt(sessionId)
    try {
      // Claude Code's retries of a failing model API get this long; then the router can fall back.
      const turn = await engine.send(sessionId, plan.input.content, {
        retryBudgetMs: gateway.config.openai.retryBudgetMs,
        ...unfollowedLife(plan, continued),
      })
      return { sessionId, turnId: turn.id, startSeq: turn.startSeq }
    } catch (error) {
      // Not started (busy, say): the conversation can still be continued by a retry.
      if (continued) await conversations.remember(plan.historyKey, sessionId)
      throw error
    }
  }

  /**
   * A new conversation's first answer keeps its process only `openai.unfollowedIdleMs` for a follow-up:
   * most OpenAI conversations get none, and each process held is ~190 MB and a slot new conversations need.
   * A follow-up after it resumes the session from Claude's transcript (full context, a cold start). A
   * conversation that was followed up, or one the client names (`session_id`), keeps `pool.idleTimeoutMs`.
   */
  function unfollowedLife(plan: ChatPlan, continued: boolean): { idleTimeoutMs?: number } {
    const ms = gateway.config.openai.unfollowedIdleMs
    const usual = gateway.config.pool.idleTimeoutMs
    if (continued || plan.sessionId || ms <= 0) return {}
    return { idleTimeoutMs: usual > 0 ? Math.min(ms, usual) : ms }
  }

  /**
   * The session a remembered history continues, taken here; unless another replica runs it: the request
   * goes there whole then (the error handler forwards an OwnedElsewhereError), and that replica takes it.
   */
  async function continuation(key: string): Promise<string | undefined> {
    const { cluster, engine } = gateway
    if (cluster) {
      const sessionId = await conversations.peek(key)
      if (sessionId === undefined) return undefined
      if (!engine.holds(sessionId)) {
        const lease = await cluster.leases.owner(sessionId)
        if (lease?.live && !lease.self) throw new OwnedElsewhereError(sessionId, lease)
      }
    }
    return conversations.take(key)
  }

  /** The session this request talks to: named, continued from a remembered history, or a new one. */
  async function openSession(
    plan: ChatPlan,
    principal: Principal,
  ): Promise<{ sessionId: string; continued: boolean }> {
    const { engine } = gateway
    if (plan.sessionId) {
      const session = await liveSession(engine, plan.sessionId)
      // Another user's session is answered exactly as a missing one (src/api/native/visibility.ts).
      if (!session || !(await sessionVisible(gateway, principal, session.id, false))) {
        throw new OpenAIError(
          404,
          `Session '${plan.sessionId}' does not exist.`,
          'invalid_request_error',
          'session_id',
          'session_not_found',
        )
      }
      return { sessionId: session.id, continued: false }
    }
    const continued = await continuation(plan.historyKey)
    const found = continued === undefined ? undefined : await engine.getSession(continued)
    // The key names the owner already; the record is asked too, so that no key can lead into another's.
    if (found && found.state !== 'closed' && (found.owner ?? null) === principal.id)
      return { sessionId: found.id, continued: true }
    const title = titleOf(plan)
    const owner = principal.id
    // Only a request that makes a session counts against the live-sessions quota (src/users/quotas.ts).
    const place = await gateway.users.quotas.admitSession(principal)
    try {
      const created = await engine.createSession({ ...plan.settings, title, owner, history: plan.history })
      return { sessionId: created.id, continued: false }
    } finally {
      place.release()
    }
  }

  /**
   * Wait for the first event that shows the turn is answering (or its end). Meanwhile Claude Code may be
   * retrying a failing upstream: the engine abandons the turn past its retry budget (at once when Claude's
   * API refuses the credentials), and the request fails with the status a router can act on, with
   * `Retry-After` as the engine or Claude Code's last retry announced it.
   */
  async function firstProgress(exchange: Exchange): Promise<GatewayEvent[]> {
    const seen: GatewayEvent[] = []
    const options = answerOptions(exchange.plan)
    let retryAfterMs: number | undefined
    for (;;) {
      const { value: next } = await exchange.follower.next()
      if (next === undefined) throw new GatewayError('internal', 'The turn ended without completing')
      seen.push(next)
      if (next.type === 'api.retry') retryAfterMs = next.delayMs
      if (next.type === 'error' && next.retryAfterMs !== undefined) retryAfterMs = next.retryAfterMs
      if (Answer.isProgress(next, options)) {
        if (
          next.type === 'turn.completed' &&
          next.status !== 'success' &&
          !hasAnswer(seen, options) &&
          next.error
        ) {
          const { code, message } = next.error
          throw fromEngineError(
            code,
            message,
            code === 'overloaded' || code === 'rate_limited' ? retryAfterMs : undefined,
          )
        }
        return seen
      }
    }
  }

  function answerOptions(plan: ChatPlan): Omit<AnswerOptions, 'wholeTurn'> {
    const offered = new Set(plan.tools.map((tool) => tool.function.name))
    return {
      json: plan.json,
      stop: plan.stop,
      clientFunction: (toolName) => {
        const name = clientFunctionName(toolName)
        return name !== undefined && offered.has(name) ? name : undefined
      },
    }
  }
}

function hasAnswer(events: GatewayEvent[], options: Pick<AnswerOptions, 'json' | 'clientFunction'>): boolean {
  return events.some((event) => event.type !== 'turn.completed' && Answer.isProgress(event, options))
}

/** A session's title for the admin views: the start of its first user message. */
function titleOf(plan: ChatPlan): string | null {
  const first = plan.history[0]?.content ?? (plan.input.kind === 'user' ? plan.input.content : [])
  const text = first.find((block) => block.type === 'text')?.text
  return typeof text === 'string' && text.trim() ? text.trim().replace(/\s+/g, ' ').slice(0, 80) : null
}

/** The assistant message as a client appends it to its history: what the next request's key must match. */
function assistantMessage(answer: Answer): ChatPlan['conversation'][number] {
  return {
    role: 'assistant',
    content: answer.content || null,
    ...(answer.toolCalls.length ? { tool_calls: answer.toolCalls } : {}),
  }
}
