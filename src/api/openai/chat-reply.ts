/**
 * How POST /v1/chat/completions writes a turn's answer to the client: one chat.completion once the turn has
 * ended (`respond`), or chat.completion.chunk events over SSE as it goes (`stream`), at the client's pace.
 * Either interrupts the rest of the turn once the answer is cut (stop sequence, max_tokens).
 */
import type { FastifyReply } from 'fastify'
import type { TurnFollower } from '../../events/follow.js'
import type { ErrorCode, GatewayEvent } from '../../events/types.js'
import type { GatewayContext } from '../../gateway.js'
import { interruptTurn } from '../hang-up.js'
import { JSON_TYPE } from '../media-types.js'
import { SseWriter } from '../sse.js'
import type { Answer, Delta } from './answer.js'
import { completionView } from './completion-view.js'
import { fromEngineError, OpenAIError } from './errors.js'
import type { ChatPlan } from './request.js'

/** One chat request as it is answered: what its reply is written from. */
export interface Exchange {
  id: string
  created: number
  model: string
  plan: ChatPlan
  sessionId: string
  follower: TurnFollower
  answer: Answer
  /** The turn was interrupted because the answer was cut. */
  cut: boolean
  timing: { received: number; dispatched: number; firstEvent: number }
}

/** The answer as one chat.completion, once the turn has ended (or the answer was cut). */
export async function respond(
  gateway: GatewayContext,
  exchange: Exchange,
  first: GatewayEvent[],
  reply: FastifyReply,
): Promise<void> {
  const { answer } = exchange
  for (const event of first) answer.apply(event)
  while (!answer.done) {
    const next = await exchange.follower.next()
    if (next.done) break
    answer.apply(next.value)
    stopIfCut(gateway, exchange)
  }
  const failure = failureOf(answer)
  if (failure && !answer.content && !answer.toolCalls.length)
    throw fromEngineError(failure.code, failure.message)
  reply
    .header('x-session-id', exchange.sessionId)
    .header('server-timing', serverTiming(exchange, performance.now()))
    .type(JSON_TYPE)
    .send(completionView(exchange, answer))
}

/** The answer as chat.completion.chunk events while the turn goes, at the client's pace, then `[DONE]`. */
export async function stream(
  gateway: GatewayContext,
  exchange: Exchange,
  first: GatewayEvent[],
  reply: FastifyReply,
): Promise<void> {
  const { answer, plan } = exchange
  const { maxBufferedBytes, stallTimeoutMs } = gateway.config.native
  const writer = new SseWriter(reply, {
    maxBufferedBytes,
    stallTimeoutMs,
    headers: {
      'x-session-id': exchange.sessionId,
      'server-timing': serverTiming(exchange, performance.now()),
    },
    keepAlive: { everyMs: gateway.config.openai.keepAliveMs, comment: ': keep-alive\n\n', whenIdle: true },
    stalledFrame: () =>
      data(
        new OpenAIError(
          503,
          `This client took no data for ${stallTimeoutMs} ms while more than ${maxBufferedBytes} bytes of the answer waited for it.`,
          'server_error',
          null,
          'slow_consumer',
        ).body,
      ),
    // A hang-up is interruptOnHangUp's (the request's); a client cut off for a stall is still connected.
    onClose: (stalled) => {
      if (stalled && !answer.done) interruptTurn(gateway, exchange.sessionId)
    },
  })
  const base = {
    id: exchange.id,
    object: 'chat.completion.chunk',
    created: exchange.created,
    model: exchange.model,
    system_fingerprint: null,
  }
  const usageField = plan.includeUsage ? { usage: null } : {}
  const chunk = (delta: object, finishReason: string | null = null) =>
    writer.write(
      data({
        ...base,
        choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }],
        ...usageField,
      }),
    )
  try {
    let sentRole = false
    /** Writes the deltas; false when the client's socket is full (wait for `drained()`). */
    const send = (deltas: Delta[]): boolean => {
      let room = true
      for (const delta of deltas) {
        room = chunk(sentRole ? delta : { role: 'assistant', content: '', ...delta }) && room
        sentRole = true
      }
      return room
    }
    // At the client's pace: what it has not taken yet waits in the follower, not in its socket.
    for (const event of first) if (!send(answer.apply(event))) await writer.drained()
    while (!answer.done && !writer.closed) {
      const next = await exchange.follower.next()
      if (next.done) break
      if (!send(answer.apply(next.value))) await writer.drained()
      stopIfCut(gateway, exchange)
    }
    if (writer.closed) return
    if (!sentRole) send([{ content: '' }])
    const failure = failureOf(answer)
    if (failure) {
      writer.write(data(fromEngineError(failure.code, failure.message).body))
    } else {
      chunk({}, answer.finishReason ?? 'stop')
      if (plan.includeUsage) writer.write(data({ ...base, choices: [], usage: answer.usage }))
    }
    writer.write('data: [DONE]\n\n')
  } finally {
    writer.end()
  }
}

/** The answer was cut (stop sequence, max_tokens): the rest of the turn is not wanted. Once. */
function stopIfCut(gateway: GatewayContext, exchange: Exchange): void {
  if (!exchange.answer.stopped || exchange.answer.completed || exchange.cut) return
  exchange.cut = true
  interruptTurn(gateway, exchange.sessionId)
}

/** One SSE `data:` frame of a JSON value. */
const data = (value: unknown) => `data: ${JSON.stringify(value)}\n\n`

/** Errors that end an answer; running out of turns or budget only makes it incomplete ('length'). */
function failureOf(answer: Answer): { code: ErrorCode; message: string } | undefined {
  const completed = answer.completed
  if (completed?.status !== 'error' || !completed.error || answer.stopped) return undefined
  return completed.error.code === 'max_turns' || completed.error.code === 'max_budget'
    ? undefined
    : completed.error
}

/** What the gateway itself added (validation, planning, dispatch) and how long Claude took to answer. */
function serverTiming(exchange: Exchange, now: number): string {
  const { received, dispatched, firstEvent } = exchange.timing
  const round = (ms: number) => Math.max(0, Math.round(ms * 100) / 100)
  return `gateway;dur=${round(dispatched - received)};desc="gateway", claude;dur=${round((firstEvent || now) - dispatched)};desc="first token"`
}
