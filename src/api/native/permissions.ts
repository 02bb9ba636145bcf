/**
 * What Claude may do with its tools, and the answers to what it asks:
 *
 * - `GET|PUT /api/sessions/{id}/tool-permissions`: the session's permission mode, allow and deny rules, and
 *   whether it takes interactive approvals (the same settings as the session options; a change applies
 *   from the next turn, as `PUT /context` does);
 * - `GET /api/sessions/{id}/permissions`: the permission requests waiting for an answer;
 * - `POST /api/sessions/{id}/permissions/{request_id}`: answer one (the REST twin of the WebSocket's
 *   `permission` message).
 */
import { type Static, Type } from '@sinclair/typebox'
import type { FastifyPluginAsync } from 'fastify'
import type { PermissionAnswer, SessionManager } from '../../engine/sessions.js'
import type { GatewayContext } from '../../gateway.js'
import type { Principal } from '../../users/principal.js'
import { Enum, json, Nullable, ref } from '../responses.js'
import { invalid, notFound } from './errors.js'
import { permissionRequestView } from './permission-request-view.js'
import { PermissionFields, permissionSettingsFrom } from './permission-settings.js'
import { permittedPatch, sessionOrThrow } from './resolve.js'
import { BODY_ERRORS, sessionResponses } from './responses.js'
import { SessionParams } from './schemas.js'
import { toolPermissionsView } from './views.js'

const ToolPermissions = Type.Object(PermissionFields, { additionalProperties: false, minProperties: 1 })
export type ToolPermissions = Static<typeof ToolPermissions>

const Answer = Type.Object(
  {
    behavior: Type.Union([Type.Literal('allow'), Type.Literal('deny')], { description: 'The decision.' }),
    updated_input: Type.Optional(
      Type.Record(Type.String(), Type.Unknown(), {
        description: "Allow only: the input the tool runs with instead of Claude's.",
      }),
    ),
    message: Type.Optional(Type.String({ description: 'Deny only: what Claude is told.' })),
  },
  { additionalProperties: false },
)

const RequestParams = Type.Object({
  ...SessionParams.properties,
  request_id: Type.String({
    minLength: 1,
    description: 'The `requestId` of the `permission.requested` event.',
  }),
})

const PermissionRequestSchema = Type.Object(
  {
    request_id: Type.String(),
    tool_use_id: Type.String(),
    tool_name: Type.String(),
    input: Type.Unknown(),
    reason: Type.Optional(Type.String({ description: 'Why Claude Code asks, when it says.' })),
    turn_id: Type.String(),
    requested_at: Type.String({ format: 'date-time' }),
    expires_at: Nullable(
      Type.String({ format: 'date-time', description: 'When it is denied unanswered; null: never.' }),
    ),
  },
  { $id: 'PermissionRequest', description: 'A permission request waiting for an answer.' },
)

const PermissionRequestList = Type.Object({
  items: Type.Array(ref<Static<typeof PermissionRequestSchema>>('PermissionRequest')),
})

const Answered = Type.Object({
  request_id: Type.String(),
  tool_use_id: Type.String(),
  tool_name: Type.String(),
  behavior: Enum(['allow', 'deny']),
})

export const permissionRoutes: FastifyPluginAsync<{ gateway: GatewayContext }> = async (app, { gateway }) => {
  const { engine } = gateway
  app.addSchema(PermissionRequestSchema)

  app.get<{ Params: Static<typeof SessionParams> }>(
    '/sessions/:id/tool-permissions',
    {
      schema: {
        operationId: 'getToolPermissions',
        tags: ['permissions'],
        summary: "A session's tool permissions",
        description: 'Its permission mode, allow and deny rules, and whether it takes interactive approvals.',
        params: SessionParams,
        response: sessionResponses({
          200: json("The session's permission mode, rules and approvals.", ref('ToolPermissions')),
        }),
      },
    },
    async (request) => toolPermissionsOf(engine, request.params.id),
  )

  app.put<{ Params: Static<typeof SessionParams>; Body: ToolPermissions }>(
    '/sessions/:id/tool-permissions',
    {
      schema: {
        operationId: 'updateToolPermissions',
        tags: ['permissions'],
        summary: "Change a session's tool permissions",
        description:
          'Only the fields given change (a rule list is replaced whole). They apply from the next turn: a ' +
          'live process is let go (at once when idle, else after its turn) and the conversation resumes. ' +
          'Answers the permissions now in force.',
        params: SessionParams,
        body: ToolPermissions,
        response: sessionResponses(
          { 200: json('The permissions now in force.', ref('ToolPermissions')) },
          {
            ...BODY_ERRORS,
            400: 'validation_error: the body does not match the schema, or a rule is not `Tool` or `Tool(pattern)` (`field` names it); invalid_json.',
          },
        ),
      },
    },
    async (request) => changeToolPermissions(gateway, request.principal, request.params.id, request.body),
  )

  app.get<{ Params: Static<typeof SessionParams> }>(
    '/sessions/:id/permissions',
    {
      schema: {
        operationId: 'listPermissionRequests',
        tags: ['permissions'],
        summary: 'Permission requests waiting for an answer',
        description:
          'Requests of sessions with `ask_permissions` that nobody has answered yet, oldest first. Each is ' +
          'denied at `expires_at` (`pool.permissionTimeoutMs`) if still unanswered.',
        params: SessionParams,
        response: sessionResponses({
          200: json('The requests waiting for an answer, oldest first.', PermissionRequestList),
        }),
      },
    },
    async (request): Promise<Static<typeof PermissionRequestList>> => {
      const { id } = request.params
      await sessionOrThrow(engine, id)
      const items = engine
        .pendingPermissions(id)
        .map(({ requested, expiresAt }) => permissionRequestView(requested, expiresAt))
      return { items }
    },
  )

  app.post<{ Params: Static<typeof RequestParams>; Body: Static<typeof Answer> }>(
    '/sessions/:id/permissions/:request_id',
    {
      schema: {
        operationId: 'answerPermissionRequest',
        tags: ['permissions'],
        summary: 'Answer a permission request',
        description:
          'Allow the call (with `updated_input`, it runs with that input) or deny it (`message` tells Claude ' +
          'why). 404 when the request is not waiting (answered, timed out, or never made).',
        params: RequestParams,
        body: Answer,
        response: sessionResponses(
          { 200: json('The request answered.', Answered) },
          {
            ...BODY_ERRORS,
            400: 'validation_error: the body does not match the schema, `message` with allow or `updated_input` with deny; invalid_json.',
            404: 'not_found: no such session (or closed), or no such request waiting (answered, timed out, or never made).',
          },
        ),
      },
    },
    async (request): Promise<Static<typeof Answered>> => {
      const { id, request_id: requestId } = request.params
      await sessionOrThrow(engine, id)
      const answer = answerFrom(request.body)
      const waiting = engine.pendingPermissions(id).find(({ requested }) => requested.requestId === requestId)
      if (!waiting) throw notFound(`Pending permission request ${requestId}`)
      engine.answerPermission(id, requestId, answer)
      return {
        request_id: requestId,
        tool_use_id: waiting.requested.toolUseId,
        tool_name: waiting.requested.toolName,
        behavior: answer.behavior,
      }
    },
  )
}

/** `GET /sessions/{id}/tool-permissions`: the session's permission mode, rules and approvals. */
export const toolPermissionsOf = async (engine: SessionManager, id: string) =>
  toolPermissionsView(await sessionOrThrow(engine, id))

/** `PUT /sessions/{id}/tool-permissions`: the fields given change (from the next turn); answers them all. */
export async function changeToolPermissions(
  gateway: GatewayContext,
  principal: Principal,
  id: string,
  body: ToolPermissions,
) {
  const { engine } = gateway
  await sessionOrThrow(engine, id)
  const allowed = await permittedPatch(gateway, principal, permissionSettingsFrom(body))
  return toolPermissionsView(await engine.updateSettings(id, allowed))
}

function answerFrom(body: Static<typeof Answer>): PermissionAnswer {
  if (body.behavior === 'allow') {
    if (body.message !== undefined)
      throw invalid('body.message is for a denial; an allow takes updated_input', 'body.message')
    return { behavior: 'allow', updatedInput: body.updated_input }
  }
  if (body.updated_input !== undefined)
    throw invalid('body.updated_input is for an allow; a denial takes message', 'body.updated_input')
  return { behavior: 'deny', message: body.message }
}
