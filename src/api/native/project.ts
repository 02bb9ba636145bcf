/**
 * A session's project: `POST /api/sessions/{id}/project/init` runs Claude Code's `/init` (Claude studies the
 * workspace and writes its CLAUDE.md) as one of the session's turns; `PUT /api/sessions/{id}/project/workspace`
 * moves the session to another folder, its conversation going on there.
 */
import { stat } from 'node:fs/promises'
import { join } from 'node:path'
import { type Static, Type } from '@sinclair/typebox'
import type { FastifyPluginAsync } from 'fastify'
import type { GatewayContext } from '../../gateway.js'
import { json, ref } from '../responses.js'
import { confinedWorkspace, nativeWorkspaces, sessionOrThrow } from './resolve.js'
import { BODY_ERRORS, sessionResponses, TURN_START_ERRORS } from './responses.js'
import { SessionParams } from './schemas.js'
import { changeSettings } from './session-options.js'
import { answeredTurn, type TurnResultSchema } from './turn-answer.js'

const WorkspaceMove = Type.Object(
  {
    workspace: Type.String({
      minLength: 1,
      description:
        "The folder the session works in from now on; under the caller's workspace roots (`native.workspaceRoots`, or a user's own).",
    }),
  },
  { additionalProperties: false },
)

const ProjectInitSchema = Type.Object(
  {
    turn: ref<Static<typeof TurnResultSchema>>('TurnResult'),
    claude_md: Type.Object({
      path: Type.String(),
      exists: Type.Boolean(),
      written: Type.Boolean({ description: 'The turn wrote it.' }),
      created: Type.Boolean({ description: 'The turn wrote it and it did not exist before.' }),
      size: Type.Integer({ description: 'Bytes; 0 when absent.' }),
    }),
  },
  { $id: 'ProjectInit' },
)

export const projectRoutes: FastifyPluginAsync<{ gateway: GatewayContext }> = async (app, { gateway }) => {
  const { engine } = gateway
  app.addSchema(ProjectInitSchema)

  app.post<{ Params: Static<typeof SessionParams> }>(
    '/sessions/:id/project/init',
    {
      schema: {
        operationId: 'initProject',
        tags: ['project'],
        summary: "Run Claude Code's /init in the session",
        description:
          'One turn of the session: Claude looks at the workspace and writes its CLAUDE.md (the session ' +
          'must let Claude write files: permission mode `acceptEdits` or `bypassPermissions`, or approvals ' +
          'over the WebSocket). Answers the finished turn and what became of CLAUDE.md; when it was ' +
          "written, the session's next turn starts a process that reads it.",
        params: SessionParams,
        response: sessionResponses(
          {
            200: json(
              'The finished turn (also when it failed: its `status`), and what became of CLAUDE.md.',
              ref('ProjectInit'),
            ),
          },
          TURN_START_ERRORS,
        ),
      },
    },
    async (request, reply): Promise<Static<typeof ProjectInitSchema>> => {
      const { id } = request.params
      const memory = join((await sessionOrThrow(engine, id)).settings.workspace, 'CLAUDE.md')
      const before = await fileState(memory)
      const turn = await answeredTurn(gateway, reply, await engine.send(id, '/init'))
      const after = await fileState(memory)
      const written =
        after !== undefined &&
        (before === undefined || after.mtimeMs !== before.mtimeMs || after.size !== before.size)
      // Claude Code reads CLAUDE.md when its process starts.
      if (written) engine.restartRunner(id)
      return {
        turn,
        claude_md: {
          path: memory,
          exists: after !== undefined,
          written,
          created: written && before === undefined,
          size: after?.size ?? 0,
        },
      }
    },
  )

  app.put<{ Params: Static<typeof SessionParams>; Body: Static<typeof WorkspaceMove> }>(
    '/sessions/:id/project/workspace',
    {
      schema: {
        operationId: 'moveSessionWorkspace',
        tags: ['project'],
        summary: 'Move the session to another workspace',
        description:
          'Its process is let go (at once when idle, else after its turn) and the next message resumes the ' +
          "conversation in the new folder, Claude Code's transcript moving along. Answers the session.",
        params: SessionParams,
        body: WorkspaceMove,
        response: sessionResponses(
          { 200: json('The session in its new workspace.', ref('Session')) },
          BODY_ERRORS,
        ),
      },
    },
    async (request) => {
      const { roots } = await nativeWorkspaces(gateway, request.principal)
      return changeSettings(gateway, request.principal, request.params.id, () => ({
        workspace: confinedWorkspace(request.body.workspace, roots, 'body.workspace'),
      }))
    },
  )
}

/** A regular file's size and modification time; undefined when there is none. */
async function fileState(path: string) {
  const info = await stat(path).catch(() => undefined)
  return info?.isFile() ? { size: info.size, mtimeMs: info.mtimeMs } : undefined
}
