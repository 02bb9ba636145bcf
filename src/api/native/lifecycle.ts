/**
 * A session's life beyond its turns: resume it now (warm), pause it, fork it into a new session, and import
 * a conversation Claude Code itself had in a workspace (listed by `GET /api/claude-sessions`).
 */
import { type Static, Type } from '@sinclair/typebox'
import type { FastifyPluginAsync } from 'fastify'
import { type ClaudeSessionInfo, listClaudeSessions } from '../../engine/claude-sessions.js'
import { forkSession, importSession } from '../../engine/fork.js'
import type { GatewayContext } from '../../gateway.js'
import { canWrite, type Principal } from '../../users/principal.js'
import { json, Nullable, ref } from '../responses.js'
import { ApiError } from './errors.js'
import {
  claudeHome,
  confinedWorkspace,
  nativeWorkspaces,
  permittedSettings,
  sessionOrThrow,
} from './resolve.js'
import { BODY_ERRORS, NATIVE_COMMON, nativeErrors, sessionResponses, TURN_START_ERRORS } from './responses.js'
import { pageQuery, SessionParams } from './schemas.js'
import { sessionView } from './views.js'

const UUID_PATTERN = '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$'

/** A session's title (a label for people); what `description` says is used when it is absent. */
const Title = (description: string) =>
  Type.Optional(Type.Union([Type.String({ maxLength: 200 }), Type.Null()], { description }))

const ForkBody = Type.Object(
  {
    at_message: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 200,
        description:
          "Where the branch ends: a `turn_id` of the session (the fork ends after Claude's last message of " +
          'that turn), a `message_id` of an assistant item of its history (`msg_…`: the fork ends with that ' +
          "message), or the uuid of an entry of Claude Code's transcript. Absent: the whole conversation.",
      }),
    ),
    title: Title('Absent: the source\'s title followed by " (fork)".'),
  },
  { additionalProperties: false },
)

const ImportBody = Type.Object(
  {
    claude_session_id: Type.String({
      pattern: UUID_PATTERN,
      description: "Claude Code's session id (a UUID), as `GET /api/claude-sessions` lists it.",
    }),
    workspace: Type.String({
      minLength: 1,
      description:
        'The folder Claude Code ran that session in (its transcripts are kept per folder); it becomes the ' +
        "session's workspace and must be under the caller's workspace roots (`native.workspaceRoots`, or a user's own).",
    }),
    title: Title("Absent: the conversation's title or first prompt in Claude Code."),
  },
  { additionalProperties: false },
)

const ClaudeSessionsQuery = Type.Object(
  {
    workspace: Type.String({
      minLength: 1,
      description:
        "The folder whose Claude Code sessions are listed; under the caller's workspace roots (`native.workspaceRoots`, or a user's own).",
    }),
    ...pageQuery('Sessions'),
  },
  { additionalProperties: false },
)

const ClaudeSessionSchema = Type.Object(
  {
    claude_session_id: Type.String(),
    summary: Type.String({
      description: 'Its title in Claude Code, else its summary, else its first prompt.',
    }),
    title: Nullable(Type.String({ description: 'The title given in Claude Code (`/rename`).' })),
    first_prompt: Nullable(Type.String()),
    git_branch: Nullable(Type.String()),
    created_at: Nullable(Type.String({ format: 'date-time' })),
    last_modified: Type.String({ format: 'date-time' }),
    file_size: Nullable(Type.Integer()),
  },
  { $id: 'ClaudeSession', description: 'A conversation Claude Code keeps for a folder (its transcript).' },
)
type ClaudeSessionView = Static<typeof ClaudeSessionSchema>

const ClaudeSessionPageSchema = Type.Object(
  {
    workspace: Type.String({ description: 'The real path of the folder.' }),
    items: Type.Array(ref<ClaudeSessionView>('ClaudeSession')),
    limit: Type.Integer(),
    offset: Type.Integer(),
    has_more: Type.Boolean(),
  },
  { $id: 'ClaudeSessionPage' },
)

export const lifecycleRoutes: FastifyPluginAsync<{ gateway: GatewayContext }> = async (app, { gateway }) => {
  const { engine, bus } = gateway
  app.addSchema(ClaudeSessionSchema)
  app.addSchema(ClaudeSessionPageSchema)

  app.post<{ Params: Static<typeof SessionParams> }>(
    '/sessions/:id/resume',
    {
      schema: {
        operationId: 'resumeSession',
        tags: ['lifecycle'],
        summary: 'Resume a session now',
        description:
          "Starts the session's Claude Code process now, resuming its conversation, so that its next " +
          'message goes straight to a live process (a session resumes by itself on its next message ' +
          'anyway). A paused session is un-paused. No body. Answers the session, `idle` with its `runner`.',
        params: SessionParams,
        response: sessionResponses(
          {
            200: json(
              'The session, `idle` with its `runner` (or as it is when already live or running).',
              ref('Session'),
            ),
          },
          {
            404: 'not_found: no such session.',
            409: 'session_closed: the session is closed.',
            429: TURN_START_ERRORS[429],
            503: TURN_START_ERRORS[503],
          },
        ),
      },
    },
    async (request) => {
      const { id } = request.params
      await sessionOrThrow(engine, id, { closed: 'refused' })
      return sessionView(await engine.resume(id), engine)
    },
  )

  app.post<{ Params: Static<typeof SessionParams> }>(
    '/sessions/:id/pause',
    {
      schema: {
        operationId: 'pauseSession',
        tags: ['lifecycle'],
        summary: 'Pause a session',
        description:
          "Stops the session's Claude Code process; the session is `paused` and refuses messages " +
          '(`409 session_paused`) until `POST /api/sessions/{id}/resume`, also after a gateway restart. ' +
          'Refused with `409 session_busy` while a turn runs or waits: interrupt it first. No body.',
        params: SessionParams,
        response: sessionResponses(
          { 200: json('The session, `paused` without a `runner`.', ref('Session')) },
          {
            404: 'not_found: no such session.',
            409: 'session_busy: a turn runs or messages wait (interrupt it first); session_closed: the session is closed.',
          },
        ),
      },
    },
    async (request) => {
      const { id } = request.params
      await sessionOrThrow(engine, id, { closed: 'refused' })
      return sessionView(await engine.pause(id), engine)
    },
  )

  app.post<{ Params: Static<typeof SessionParams>; Body: Static<typeof ForkBody> }>(
    '/sessions/:id/fork',
    {
      schema: {
        operationId: 'forkSession',
        tags: ['lifecycle'],
        summary: 'Fork a session',
        description:
          "A new session with the source's settings and a copy of its conversation, whole or up to " +
          '`at_message`; the two go on independently. Forking a session whole while its turn runs is ' +
          'refused (`409 session_busy`). A closed session can be forked. The body may be left out (a whole ' +
          'fork). Answers `201` with the new session.',
        params: SessionParams,
        body: ForkBody,
        response: sessionResponses(
          { 201: json('The new session (`new`, with a copy of the conversation).', ref('Session')) },
          {
            ...BODY_ERRORS,
            404: 'not_found: no such session, or no such turn or message in its current conversation.',
            409: 'session_busy: a whole fork of a session whose turn is running.',
          },
        ),
      },
      config: { docs: { bodyOptional: true } },
      // Forking the whole conversation needs no body at all.
      preValidation: async (request) => {
        request.body ??= {}
      },
    },
    async (request, reply) => {
      const { id } = request.params
      const { at_message, title } = request.body
      // The fork is the caller's, with the source's settings as far as their policy allows them.
      // (A closed session can be forked; a missing one is the engine's 404.)
      const source = await engine.getSession(id)
      const settings = source && (await permittedSettings(gateway, request.principal, source.settings))
      const fork = await forkSession(engine, bus, id, {
        at: at_message,
        title,
        owner: request.principal.id,
        ...(settings ? { settings } : {}),
      })
      return reply.code(201).send(sessionView(fork, engine))
    },
  )

  app.post<{ Body: Static<typeof ImportBody> }>(
    '/sessions/import',
    {
      schema: {
        operationId: 'importSession',
        tags: ['lifecycle'],
        summary: 'Import a Claude Code session',
        description:
          'A new session that continues a conversation Claude Code itself had in `workspace` (its first ' +
          'message resumes it with every earlier turn). Other settings are the configured defaults; change ' +
          'them with `PUT /api/sessions/{id}/context`. `409 conflict` when a session of the gateway already ' +
          'continues that conversation. Answers `201` with the session.',
        body: ImportBody,
        response: {
          201: json('The new session (`new`), continuing the conversation.', ref('Session')),
          ...nativeErrors({
            ...BODY_ERRORS,
            404: "not_found: Claude Code has no such conversation in that workspace (to a user: or another user's session, even closed, has it).",
            409: 'conflict: a session of the gateway already continues that conversation.',
            ...NATIVE_COMMON,
          }),
        },
      },
    },
    async (request, reply) => {
      const { claude_session_id, title } = request.body
      const { principal } = request
      const workspace = await confined(principal, request.body.workspace, 'body.workspace')
      const settings = await permittedSettings(gateway, principal, { workspace })
      // A conversation another's session has (even closed) is theirs: answered as missing to a user.
      const outcome = await importSession(
        engine,
        claude_session_id,
        { ...settings, workspace, owner: principal.id, ...(title !== undefined ? { title } : {}) },
        (owner) => canWrite(principal, owner),
      )
      if ('heldBy' in outcome) {
        throw new ApiError(
          'conflict',
          `Session ${outcome.heldBy.id} already continues Claude Code session ${claude_session_id}`,
        )
      }
      return reply.code(201).send(sessionView(outcome.created, engine))
    },
  )

  app.get<{ Querystring: Static<typeof ClaudeSessionsQuery> }>(
    '/claude-sessions',
    {
      schema: {
        operationId: 'listClaudeSessions',
        tags: ['lifecycle'],
        summary: "Claude Code's own sessions in a workspace",
        description:
          'The conversations Claude Code keeps for a folder (its transcripts), most recently modified ' +
          "first: the gateway's sessions in that folder and the ones the CLI had by itself. Any of them can " +
          'be imported with `POST /api/sessions/import`.',
        querystring: ClaudeSessionsQuery,
        response: {
          200: json(
            "A page of Claude Code's sessions, most recently modified first.",
            ref('ClaudeSessionPage'),
          ),
          ...nativeErrors({
            400: 'validation_error: `workspace` is missing, not a folder or not under native.workspaceRoots; or a query parameter is invalid or unknown.',
            ...NATIVE_COMMON,
          }),
        },
      },
    },
    async (request): Promise<Static<typeof ClaudeSessionPageSchema>> => {
      const { limit, offset } = request.query
      const { principal } = request
      const workspace = await confined(principal, request.query.workspace, 'querystring.workspace')
      // The caller's conversations: their own Claude Code folder's, else the shared one's.
      const { dir } = await claudeHome(gateway, principal.id)
      // One more than the page tells whether another page follows.
      const found = await listClaudeSessions(dir, workspace, { limit: limit + 1, offset })
      return {
        workspace,
        items: found.slice(0, limit).map(claudeSessionView),
        limit,
        offset,
        has_more: found.length > limit,
      }
    },
  )

  async function confined(principal: Principal, path: string, field: string): Promise<string> {
    return confinedWorkspace(path, (await nativeWorkspaces(gateway, principal)).roots, field)
  }
}

function claudeSessionView(info: ClaudeSessionInfo): ClaudeSessionView {
  return {
    claude_session_id: info.sessionId,
    summary: info.summary,
    title: info.customTitle ?? null,
    first_prompt: info.firstPrompt ?? null,
    git_branch: info.gitBranch ?? null,
    created_at: info.createdAt === undefined ? null : new Date(info.createdAt).toISOString(),
    last_modified: new Date(info.lastModified).toISOString(),
    file_size: info.fileSize ?? null,
  }
}
