/**
 * Slash commands: which ones a workspace or a session has (`GET /api/commands`,
 * `GET /api/sessions/{id}/commands`) and running one in a session (`POST /api/sessions/{id}/commands/{name}`).
 *
 * A command Claude Code runs (its own, a command file, a skill) is sent to the session's process as the user
 * text `/<name> <args>`, queued behind a running turn like any message, and answered with its turn. The
 * commands Claude Code does not run headless are the gateway's own (gateway-commands.ts).
 */
import { type Static, Type } from '@sinclair/typebox'
import type { FastifyPluginAsync } from 'fastify'
import {
  type CommandEntry,
  catalog,
  commandFiles,
  type FileSource,
  nearMatches,
  resolveCommand,
  scopeOf,
} from '../../commands/index.js'
import type { GatewayContext } from '../../gateway.js'
import { json, ref } from '../responses.js'
import { COMMAND_SCHEMAS, type CommandList, commandView } from './command-views.js'
import { ApiError, invalid } from './errors.js'
import { GATEWAY_COMMANDS } from './gateway-commands.js'
import { claudeHome, confinedWorkspace, nativeWorkspaces, sessionOrThrow } from './resolve.js'
import { BODY_ERRORS, NATIVE_COMMON, nativeErrors, sessionResponses, TURN_START_ERRORS } from './responses.js'
import { SessionParams } from './schemas.js'
import { answeredTurn } from './turn-answer.js'

const ListQuery = Type.Object(
  {
    workspace: Type.Optional(
      Type.String({
        minLength: 1,
        description:
          "A workspace (under the caller's workspace roots) whose project commands and skills to list.",
      }),
    ),
  },
  { additionalProperties: false },
)

const RunParams = Type.Object({
  ...SessionParams.properties,
  name: Type.String({
    pattern: '^/?[^/\\s]+$',
    maxLength: 256,
    description:
      'The command or one of its aliases, with or without its slash (`clear`, `reset`, `frontend:component`).',
  }),
})

const RunBody = Type.Object(
  {
    args: Type.Optional(
      Type.String({ description: 'What follows the name, as typed after `/<name> ` in Claude Code.' }),
    ),
  },
  { additionalProperties: false },
)

export const commandRoutes: FastifyPluginAsync<{ gateway: GatewayContext }> = async (app, { gateway }) => {
  const { engine } = gateway
  for (const schema of COMMAND_SCHEMAS) app.addSchema(schema)

  /**
   * Every command of a workspace (none of a project without one), as the API shows it, with the user
   * scope of `user` (their own Claude Code folder, or the shared one).
   */
  const commandsOf = async (workspace: string | null, user: string | null): Promise<CommandEntry[]> =>
    catalog({
      files: await commandFiles({ configDir: (await claudeHome(gateway, user)).dir, workspace }),
      gateway: GATEWAY_COMMANDS,
      reported: engine.cliCommands ?? [],
      settingSources: gateway.config.claude.settingSources,
    })
  const listAnswer = async (workspace: string | null, user: string | null): Promise<CommandList> => ({
    workspace,
    commands: (await commandsOf(workspace, user)).map(commandView),
    builtins_reported: engine.cliCommands !== null,
  })

  app.get<{ Querystring: Static<typeof ListQuery> }>(
    '/commands',
    {
      schema: {
        operationId: 'listCommands',
        tags: ['commands'],
        summary: 'List slash commands',
        description:
          "The gateway's commands, Claude Code's own (once a Claude Code process has reported them: " +
          "`builtins_reported`), the user's command and skill files and, with `workspace`, the project's.",
        querystring: ListQuery,
        response: {
          200: json('The commands.', ref('CommandList')),
          ...nativeErrors({
            400: 'validation_error: `workspace` is not a folder under native.workspaceRoots, or a query parameter is unknown.',
            ...NATIVE_COMMON,
          }),
        },
      },
    },
    async (request) => {
      const { workspace } = request.query
      const user = request.principal.id
      if (workspace === undefined) return listAnswer(null, user)
      const { roots } = await nativeWorkspaces(gateway, request.principal)
      return listAnswer(confinedWorkspace(workspace, roots, 'querystring.workspace'), user)
    },
  )

  app.get<{ Params: Static<typeof SessionParams> }>(
    '/sessions/:id/commands',
    {
      schema: {
        operationId: 'listSessionCommands',
        tags: ['commands'],
        summary: "List a session's slash commands",
        description: "As `GET /api/commands` for the session's workspace.",
        params: SessionParams,
        response: sessionResponses({
          200: json("The commands of the session's workspace.", ref('CommandList')),
        }),
      },
    },
    async (request) => {
      const session = await sessionOrThrow(engine, request.params.id)
      return listAnswer(session.settings.workspace, session.owner ?? null)
    },
  )

  app.post<{ Params: Static<typeof RunParams>; Body: Static<typeof RunBody> }>(
    '/sessions/:id/commands/:name',
    {
      // A command without arguments needs no body.
      preValidation: async (request) => {
        request.body ??= {}
      },
      config: { docs: { bodyOptional: true } },
      schema: {
        operationId: 'runCommand',
        tags: ['commands'],
        summary: 'Run a slash command in a session',
        description:
          "Claude Code's commands, command files and skills run as the user text `/<name> <args>` (queued " +
          "behind a running turn) and answer with their turn; `output` is what Claude Code prints. The gateway's " +
          'own commands answer at once with `output` and `data`. An unknown name is 404 with near matches.',
        params: RunParams,
        body: RunBody,
        response: sessionResponses(
          {
            200: json(
              "The gateway command's answer, or the turn of the command Claude Code ran.",
              Type.Union([ref('GatewayCommandResult'), ref('CommandTurnResult')]),
            ),
          },
          {
            ...BODY_ERRORS,
            400: 'validation_error: `params.name`, or `body.args` (arguments to a command that takes none, or refused by the route a gateway command uses); invalid_json.',
            403: 'path_outside_workspace: /export to a file out of the workspace.',
            404: 'not_found: no such session (or closed), or no such command (the message names the closest ones).',
            409:
              `${TURN_START_ERRORS[409]} command_unavailable: only files of a scope Claude Code does not load ` +
              'define it. conflict: /memory on a memory file that is a folder or leads out of its folder.',
            413: 'payload_too_large: the body is over server.bodyLimitBytes, or /memory would make the file larger than 1 MiB; too_large: /export over tools.writeMaxBytes.',
            429: TURN_START_ERRORS[429],
            503: TURN_START_ERRORS[503],
          },
        ),
      },
    },
    async (request, reply) => {
      const { id } = request.params
      const name = request.params.name.replace(/^\//, '')
      const session = await sessionOrThrow(engine, id)
      const args = request.body.args?.trim() ?? ''
      const owner = session.owner ?? null
      const entries = await commandsOf(session.settings.workspace, owner)
      const entry = resolveCommand(entries, name)
      const own = entry?.source === 'gateway' && GATEWAY_COMMANDS.find((each) => each.name === entry.name)
      if (own) {
        if (args && !own.argumentHint) throw invalid(`/${own.name} takes no arguments`, 'body.args')
        const result = await own.run({
          gateway,
          principal: request.principal,
          session,
          args,
          commands: async () => (await listAnswer(session.settings.workspace, owner)).commands,
        })
        return { command: own.name, source: 'gateway', ...result }
      }
      const refusal = entry ? null : notRunnable(entries, name, engine.cliCommands !== null)
      if (refusal) throw refusal
      const command = entry?.name ?? name
      const turn = await engine.send(id, `/${command}${args ? ` ${args}` : ''}`)
      const answer = await answeredTurn(gateway, reply, turn)
      return { command, source: entry?.source ?? null, output: answer.result, ...answer }
    },
  )
}

/**
 * Why a name no runnable command has cannot run: 409 when only files of a scope Claude Code does not load
 * define it, else 404 naming the closest commands. Null before a Claude Code process has reported its own
 * commands: the name may be one of them, so it is Claude Code's to judge.
 */
function notRunnable(
  entries: readonly CommandEntry[],
  name: string,
  builtinsKnown: boolean,
): ApiError | null {
  const unloaded = entries.find((entry) => entry.name === name && !entry.loaded)
  if (unloaded) {
    const scope = scopeOf(unloaded.source as FileSource)
    return new ApiError(
      'command_unavailable',
      `/${name} (${unloaded.path}) cannot run: Claude Code does not load ${scope} commands ` +
        `(claude.settingSources lacks '${scope}')`,
      { field: 'params.name' },
    )
  }
  if (!builtinsKnown) return null
  const near = nearMatches(entries, name)
  const hint = near.length ? ` Did you mean ${near.map((each) => `/${each}`).join(', ')}?` : ''
  return new ApiError('not_found', `Command /${name} does not exist.${hint}`, { field: 'params.name' })
}
