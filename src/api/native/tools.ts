/**
 * The gateway's direct tools: what each one does (`GET /api/tools`) and running one in a session's
 * workspace on the client's behalf (`POST /api/sessions/{id}/tools/{name}`), recorded like Claude's calls.
 */
import { type Static, Type } from '@sinclair/typebox'
import type { FastifyPluginAsync } from 'fastify'
import type { GatewayContext } from '../../gateway.js'
import { describeTools, isToolName, ToolError } from '../../tools/index.js'
import { JSON_TYPE } from '../media-types.js'
import { fromToolError, notFound } from './errors.js'
import { SessionParams } from './schemas.js'

const ToolParams = Type.Object({ ...SessionParams.properties, name: Type.String({ minLength: 1 }) })

export const toolRoutes: FastifyPluginAsync<{ gateway: GatewayContext }> = async (app, { gateway }) => {
  // The same for the server's lifetime: serialised once.
  const toolsJson = JSON.stringify({
    tools: describeTools().map(({ name, claudeCodeName, description, inputSchema }) => ({
      name,
      claude_code_name: claudeCodeName,
      description,
      input_schema: inputSchema,
      endpoint: `/api/sessions/{id}/tools/${name}`,
    })),
  })

  app.get('/tools', (_request, reply) => {
    reply.type(JSON_TYPE).send(toolsJson)
  })

  app.post<{ Params: Static<typeof ToolParams>; Body: unknown }>(
    '/sessions/:id/tools/:name',
    { schema: { params: ToolParams } },
    async (request, reply) => {
      const { id, name } = request.params
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
