/**
 * What the audit trail (src/users/audit.ts) is told of requests: the one hook that records every request of
 * /api and /v1 that changes something (`auditRequests`, registered by both before their key check), and the
 * commands sent on a session's WebSocket (`auditCommand`, from src/api/native/ws.ts). What an entry says is
 * taken from the route (its operationId, its path parameters) and the request, never from a list of routes:
 * a new route is audited as it is added. Prompts (message text, chat messages, command arguments) are kept
 * only with `users.auditPrompts`; other values of a body never are, only its field names and a few facts.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { GatewayContext } from '../gateway.js'
import { kept } from '../users/audit.js'
import type { Principal } from '../users/principal.js'

const CHANGES = new Set(['POST', 'PUT', 'PATCH', 'DELETE'])
/** The route of one session: its `:id` is the session's. */
const SESSION_ROUTE = /\/sessions\/:id(\/|$)/
/** Body fields whose value is a prompt: kept only with `users.auditPrompts`, their size always. */
const PROMPT_FIELDS = ['content', 'messages', 'args'] as const
/** Body fields whose value is a small, harmless fact worth keeping (never a secret, never a prompt). */
const FACT_FIELDS = ['model', 'behavior', 'permission_mode', 'role', 'scope', 'stream'] as const
/** Answers larger than this are not read for their session id or error code. */
const MAX_READ_ANSWER = 1 << 20

/** What the answer said, read as it is sent (a hijacked stream sends none: its route names its session). */
interface AnswerFacts {
  session?: string
  created?: string
  error?: string
}
const answers = new WeakMap<FastifyRequest, AnswerFacts>()

/**
 * Registers the hooks that record the requests of `app` (the /api or /v1 plugin) that change something,
 * once they are answered: before the plugin's key check, so that requests refused later (403, 404, 429) are
 * recorded too; those refused for their key are not (nobody to name: `principal` is unset).
 */
export function auditRequests(app: FastifyInstance, gateway: GatewayContext): void {
  app.addHook('onRequest', (request, reply, done) => {
    if (CHANGES.has(request.method) && operationIdOf(request))
      reply.raw.once('close', () => recordRequest(gateway, request, reply))
    done()
  })
  app.addHook('onSend', (request, reply, payload, done) => {
    if (CHANGES.has(request.method) && typeof payload === 'string') {
      const status = reply.statusCode
      const session = answersSession(request)
      if (status >= 400 || status === 201 || session)
        answers.set(request, answerFacts(payload, status, session))
    }
    done(null, payload)
  })
}

function recordRequest(gateway: GatewayContext, request: FastifyRequest, reply: FastifyReply): void {
  const principal = request.principal as Principal | null
  const action = operationIdOf(request)
  if (!principal || !action) return
  try {
    const answer = answers.get(request) ?? {}
    const params = { ...(request.params as Record<string, unknown> | undefined) }
    const detail: Record<string, unknown> = {}
    let sessionId = SESSION_ROUTE.test(request.routeOptions.url ?? '') ? str(params.id) : undefined
    if (sessionId !== undefined) delete params.id
    if (answer.session && answer.session !== sessionId) {
      // A fork or an import: the session made is what it concerns; the one it came from is noted.
      if (sessionId !== undefined) detail.from = sessionId
      sessionId = answer.session
    }
    const body = isObject(request.body) ? request.body : {}
    sessionId ??= request.ccgw?.sessionId ?? str(body.session_id)
    // The most specific path parameter (`/users/:name/keys/:id`: the key); the others by name.
    const named = Object.entries(params).filter(([, value]) => typeof value === 'string')
    const target = (named.pop()?.[1] as string | undefined) ?? str(body.name)
    for (const [name, value] of named) detail[name] = value
    Object.assign(detail, bodyFacts(body, gateway.users.audit.prompts))
    if (request.ccgw?.model && detail.model === undefined) detail.model = request.ccgw.model
    if (answer.created) detail.created = answer.created
    if (answer.error) detail.error = answer.error
    detail.durationMs = Math.round(reply.elapsedTime)
    if (!reply.raw.writableFinished) detail.aborted = true
    gateway.users.audit.record({
      action,
      actor: principal.id,
      role: principal.role,
      sessionId: sessionId ?? null,
      target: target ?? null,
      status: reply.raw.statusCode,
      requestId: request.id,
      ip: request.ip,
      detail,
    })
  } catch (err) {
    // Recording is after the answer: nothing can be told to the client any more, and nothing may crash.
    request.log.error({ err }, 'recording the request in the audit trail failed')
  }
}

/** The WebSocket commands of `/sessions/{id}/stream`, under the action their HTTP route has. */
const SOCKET_ACTIONS = {
  message: 'sendMessage',
  interrupt: 'interruptSession',
  permission: 'answerPermissionRequest',
} as const

/**
 * Records a command a client sent on a session's socket (`request`: the upgrade), answered with `status`
 * (200, or the status of its error code) and, when refused, that code.
 */
export function auditCommand(
  gateway: GatewayContext,
  request: FastifyRequest,
  sessionId: string,
  command: { type: keyof typeof SOCKET_ACTIONS; [field: string]: unknown },
  status: number,
  error?: string,
): void {
  const principal = request.principal as Principal | null
  if (!principal) return
  const detail: Record<string, unknown> = {
    via: 'websocket',
    ...bodyFacts(command, gateway.users.audit.prompts),
  }
  if (error) detail.error = error
  gateway.users.audit.record({
    action: SOCKET_ACTIONS[command.type],
    actor: principal.id,
    role: principal.role,
    sessionId,
    target: str(command.permission_request_id) ?? null,
    status,
    requestId: str(command.request_id) ?? request.id,
    ip: request.ip,
    detail,
  })
}

/** The facts of a body: its field names, its size and small facts; the prompt itself only when `prompts`. */
function bodyFacts(body: Record<string, unknown>, prompts: boolean): Record<string, unknown> {
  const facts: Record<string, unknown> = {}
  const fields = Object.keys(body).filter((name) => name !== 'type' && name !== 'request_id')
  if (fields.length > 0) facts.fields = fields.slice(0, 30)
  for (const name of FACT_FIELDS) {
    const value = body[name]
    if (typeof value === 'string' || typeof value === 'boolean') facts[name] = value
  }
  for (const name of PROMPT_FIELDS) {
    if (body[name] === undefined) continue
    const text = promptText(body[name])
    facts.chars = text.length
    if (prompts) facts.prompt = kept(text)
    break
  }
  return facts
}

/**
 * The text of a prompt: a string; content blocks (their text, `[image]` for the others); chat messages
 * (`role: text`, a line each).
 */
export function promptText(value: unknown): string {
  if (typeof value === 'string') return value
  if (!Array.isArray(value)) return ''
  return value
    .map((part) => {
      if (!isObject(part)) return ''
      if (typeof part.role === 'string') return `${part.role}: ${promptText(part.content)}`
      if (typeof part.text === 'string') return part.text
      return `[${typeof part.type === 'string' ? part.type : 'part'}]`
    })
    .join('\n')
}

function answerFacts(payload: string, status: number, session: boolean): AnswerFacts {
  if (payload.length > MAX_READ_ANSWER || !payload.startsWith('{')) return {}
  let answer: unknown
  try {
    answer = JSON.parse(payload)
  } catch {
    return {}
  }
  if (!isObject(answer)) return {}
  if (status >= 400) {
    const error = isObject(answer.error) ? answer.error : {}
    return { error: str(error.code) ?? str(error.type) }
  }
  if (session && str(answer.id)) return { session: str(answer.id) }
  // What a 201 made (a key, an agent): its id, never anything else of it (a new key is in its answer).
  return status === 201 && str(answer.id) ? { created: str(answer.id) } : {}
}

const operationIdOf = (request: FastifyRequest): string | undefined =>
  (request.routeOptions.schema as { operationId?: string } | undefined)?.operationId

/** Whether the route answers a Session (create, fork, import, settings): its `id` is the session's. */
const sessionAnswers = new WeakMap<object, boolean>()
function answersSession(request: FastifyRequest): boolean {
  const schema = request.routeOptions.schema as { response?: Record<string, unknown> } | undefined
  if (!schema?.response) return false
  let known = sessionAnswers.get(schema)
  if (known === undefined) {
    known = Object.entries(schema.response).some(([status, response]) => {
      const content = (response as { content?: Record<string, { schema?: { $ref?: string } }> }).content
      return status.startsWith('2') && content?.['application/json']?.schema?.$ref === 'Session#'
    })
    sessionAnswers.set(schema, known)
  }
  return known
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value)
const str = (value: unknown): string | undefined =>
  typeof value === 'string' && value !== '' ? value : undefined
