/**
 * The gateway's direct tools: what each one does (`GET /api/tools`) and running one in a session's
 * workspace on the client's behalf (`POST /api/sessions/{id}/tools/{name}`), recorded like Claude's calls.
 */
import { type Static, Type } from '@sinclair/typebox'
import type { FastifyPluginAsync } from 'fastify'
import type { GatewayContext } from '../../gateway.js'
import { describeTools, isToolName, TOOL_NAMES, TOOLS, ToolError } from '../../tools/index.js'
import { allowedDirectTool } from '../../users/policy.js'
import { JSON_TYPE } from '../media-types.js'
import { Enum, json, ref } from '../responses.js'
import { fromToolError, notFound } from './errors.js'
import { NATIVE_COMMON, nativeErrors, sessionResponses } from './responses.js'
import { SessionParams } from './schemas.js'
import { TOOL_RESULT_SCHEMAS, toolResultResponse } from './tool-results.js'

const ToolParams = Type.Object({ ...SessionParams.properties, name: Type.String({ minLength: 1 }) })

const ToolDescriptionSchema = Type.Object(
  {
    name: Enum(TOOL_NAMES),
    claude_code_name: Type.String({ description: 'The Claude Code tool with the same semantics.' }),
    description: Type.String(),
    input_schema: Type.Object({}, { additionalProperties: true, description: 'JSON Schema of the input.' }),
    endpoint: Type.String(),
  },
  { $id: 'ToolDescription' },
)

const ToolListSchema = Type.Object({
  tools: Type.Array(ref<Static<typeof ToolDescriptionSchema>>('ToolDescription')),
})

export const toolRoutes: FastifyPluginAsync<{ gateway: GatewayContext }> = async (app, { gateway }) => {
  for (const schema of [ToolDescriptionSchema, ...Object.values(TOOL_RESULT_SCHEMAS)]) app.addSchema(schema)

  // The same for the server's lifetime: serialised once (a string body, which Fastify sends as it is).
  const tools: Static<typeof ToolListSchema> = {
    tools: describeTools().map(({ name, claudeCodeName, description, inputSchema }) => ({
      name,
      claude_code_name: claudeCodeName,
      description,
      input_schema: inputSchema as Record<string, unknown>,
      endpoint: `/api/sessions/{id}/tools/${name}`,
    })),
  }
  const toolsJson = JSON.stringify(tools)

  app.get(
    '/tools',
    {
      schema: {
        operationId: 'listTools',
        tags: ['tools'],
        summary: 'Describe the direct tools',
        response: {
          200: json('The tools, with their input schemas.', ToolListSchema),
          ...nativeErrors(NATIVE_COMMON),
        },
      },
    },
    (_request, reply) => {
      reply.type(JSON_TYPE).send(toolsJson)
    },
  )

  app.post<{ Params: Static<typeof ToolParams>; Body: unknown }>(
    '/sessions/:id/tools/:name',
    {
      schema: {
        operationId: 'runTool',
        tags: ['tools'],
        summary: "Run a direct tool in the session's workspace",
        description:
          'The body is the input of the tool named in the path (`GET /api/tools` gives each schema). Paths ' +
          "are confined to the session's workspace. The call and its result are recorded as the session's " +
          '`tool.call` / `tool.result` (and `file.changed`) events. Closing the connection early stops the ' +
          'tool.',
        params: ToolParams,
        response: sessionResponses(
          { 200: toolResultResponse },
          {
            400: 'invalid_input: the input does not match the tool (`field` names it), or a path is a folder or binary; invalid_json.',
            403: 'path_outside_workspace, permission_denied; forbidden: the tool is not among those the session (or, for a user, their allowedTools) may use.',
            404: 'not_found: no such session (or closed), no such tool, or no such file.',
            413: 'too_large: a file (or write content) over its limit; payload_too_large: body over server.bodyLimitBytes.',
            415: 'unsupported_media_type.',
            422: 'edit: not_unique (old_string occurs more than once), no_match (it does not occur).',
            504: 'timeout: search did not finish within tools.searchTimeoutMs.',
          },
        ),
      },
      // The tool checks its input against its own schema (src/tools); the route only documents them.
      config: {
        docs: {
          params: Type.Object({
            id: SessionParams.properties.id,
            name: Enum(TOOL_NAMES, { description: 'The tool.' }),
          }),
          body: {
            description: 'The input of the tool named in the path.',
            oneOf: describeTools().map(({ name, inputSchema }) => ({
              ...inputSchema,
              title: `${name} input`,
            })),
          },
        },
      },
    },
    async (request, reply) => {
      const { id, name } = request.params
      const session = await gateway.engine.getSession(id)
      if (session && isToolName(name))
        await allowedDirectTool(
          gateway.users.directory,
          request.principal,
          session.settings,
          TOOLS[name].claudeCodeName,
        )
      // A caller that hangs up does not want the result: the tool stops (bash kills its process group).
      const abort = new AbortController()
      const onClose = () => {
        if (!reply.raw.writableFinished) abort.abort()
      }
      reply.raw.once('close', onClose)
      try {
        return await runDirectTool(gateway, id, name, request.body ?? {}, abort.signal)
      } finally {
        reply.raw.off('close', onClose)
      }
    },
  )
}

/** `POST /sessions/{id}/tools/{name}`: the tool's result; its failure in the native shape (fields of the body). */
export async function runDirectTool(
  gateway: GatewayContext,
  id: string,
  name: string,
  input: unknown,
  signal?: AbortSignal,
) {
  if (!isToolName(name)) throw notFound(`Tool ${name}`)
  try {
    return await gateway.engine.runTool(id, name, input, signal ? { signal } : {})
  } catch (error) {
    throw error instanceof ToolError ? fromToolError(error, 'body') : error
  }
}
