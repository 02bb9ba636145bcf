/**
 * The native API's error responses as its routes declare them: the one error shape (registered once by
 * the /api plugin as `NativeError`) and the sets of statuses routes share, each with the codes it carries
 * (src/api/native/errors.ts declares every code with its status).
 */
import { Type } from '@sinclair/typebox'
import { errorResponses } from '../responses.js'

export const NativeErrorSchema = Type.Object(
  {
    error: Type.Object({
      code: Type.String({ description: 'Stable, machine-readable code (docs/api.md lists them).' }),
      message: Type.String({ description: 'Human-readable detail.' }),
      field: Type.Optional(
        Type.String({
          description: 'The request field at fault, as a path: `body.workspace`, `querystring.limit`.',
        }),
      ),
    }),
  },
  { $id: 'NativeError', description: 'The one error shape of the native API (/api).' },
)

/** Native error responses: each status with the codes it carries. */
export const nativeErrors = (statuses: Record<number, string>) =>
  // Retry-After comes with session_busy (409), 429, 503 and 507; not with the other 409s (conflict).
  errorResponses(
    'NativeError',
    statuses,
    (status, codes) => status === 429 || status === 503 || status === 507 || codes.startsWith('session_busy'),
  )

/** Who asks may not (src/api/native/visibility.ts, src/users/policy.ts): documented on every session route. */
const FORBIDDEN =
  "forbidden: a viewer's request that changes something, a user on a route for admins and viewers, or a setting the user's policy does not allow."

/** Every /api route can answer these. */
export const NATIVE_COMMON = {
  401: 'unauthorized: API keys are configured and the request has none of them.',
  500: 'internal: an unexpected failure in the gateway.',
  507: "storage_full: the gateway's database has no space left; nothing was changed (503 storage_unavailable when it cannot be used at all).",
}
export const BODY_ERRORS = {
  400: 'validation_error (the body does not match the schema; `field` names it), invalid_json, or json_too_deep (nested deeper than server.maxJsonDepth).',
  413: 'payload_too_large: more than server.bodyLimitBytes.',
  415: 'unsupported_media_type: the body is neither application/json nor text/plain.',
}
export const SESSION_NOT_FOUND = { 404: 'not_found: no such session, or it is closed.' }
export const QUERY_ERRORS = { 400: 'validation_error: a query parameter is invalid or unknown.' }

/** The errors of a route that reads a query and nothing else that can fail (no session, no body). */
export const QUERY_RESPONSES = nativeErrors({ ...QUERY_ERRORS, ...NATIVE_COMMON })

/**
 * The responses of a route on one session (`/sessions/{id}/…`): its answers, then the errors every such
 * route has (no such session, NATIVE_COMMON) with its own; its own win on the same status (a 404 that
 * says more, TURN_START_ERRORS' 401).
 */
export const sessionResponses = (answers: Record<number, object>, errors: Record<number, string> = {}) => ({
  ...answers,
  ...nativeErrors({
    ...SESSION_NOT_FOUND,
    ...NATIVE_COMMON,
    ...errors,
    // A route's own 403s come on top of the one every session route has.
    403: errors[403] ? `${errors[403]} ${FORBIDDEN}` : FORBIDDEN,
  }),
})

/** Why a turn cannot start (once it has, its failures are in its answer). */
export const TURN_START_ERRORS = {
  409:
    "session_busy: too many messages already wait behind this session's running turn; session_paused: " +
    'the session is paused (resume it first).',
  429:
    'busy: every Claude Code process is busy and the wait queue is full; rate_limited: the model API ' +
    'rate-limited the turn before it produced anything (answered turns).',
  503:
    'unavailable (no usable CLI), start_failed, shutting_down, claude_not_authenticated (Claude Code is ' +
    'not logged in: see GET /readyz); overloaded: the model API failed the turn ' +
    "before it produced anything, past Claude Code's retries or pool.retryBudgetMs (answered turns).",
  401:
    `${NATIVE_COMMON[401]} upstream_auth_failed: the model API refused the credentials Claude Code runs ` +
    'with (answered turns).',
}

/** The errors of the routes on one agent file (`scope` and `workspace` in the query). */
export const AGENT_FILE_ERRORS = {
  400: 'validation_error: a query parameter is invalid or unknown, `scope=project` without `workspace`, or a workspace not under native.workspaceRoots.',
  403: 'path_outside_scope: the file leads out of its scope.',
  404: 'not_found: no such agent file.',
  409: 'ambiguous: both scopes have the name and no `scope` was given.',
  422: 'invalid_agent_file: the file cannot be read as an agent file.',
  ...NATIVE_COMMON,
}

/** What a WebSocket route answers: the upgrade, and the errors of a request that cannot be one. */
export const SOCKET_RESPONSES = {
  101: { description: 'Switching Protocols: the socket is open.', type: 'null' },
  ...nativeErrors({
    ...QUERY_ERRORS,
    ...NATIVE_COMMON,
    426: 'upgrade_required: a plain request to a WebSocket route.',
  }),
}
