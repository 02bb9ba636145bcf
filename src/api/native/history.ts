/**
 * A session's conversation as a readable history, from its event log: `GET /api/sessions/{id}/history`
 * (paginated by sequence number; the items: history-items.ts), `POST /api/sessions/{id}/export` (JSON,
 * Markdown or self-contained HTML: history-export.ts), and `POST /api/sessions/{id}/thinking` (the thinking
 * setting of its next turns).
 */
import { type Static, Type } from '@sinclair/typebox'
import type { FastifyPluginAsync } from 'fastify'
import type { GatewayContext } from '../../gateway.js'
import { json, ref } from '../responses.js'
import { MAX_INTEGER } from '../validation.js'
import { EXPORT_FORMATS, exportOf } from './history-export.js'
import {
  HistoryItemSchema,
  type HistoryPage,
  HistoryPageSchema,
  historyPage,
  historyPageBefore,
} from './history-items.js'
import { sessionOrThrow } from './resolve.js'
import { BODY_ERRORS, QUERY_ERRORS, sessionResponses } from './responses.js'
import { SessionParams, ThinkingSchema, thinkingSetting } from './schemas.js'
import { changeSettings } from './session-options.js'

const HistoryQuery = Type.Object(
  {
    /** The sequence number to continue after (a page's `next_after`); 0 from the start. */
    after: Type.Integer({ minimum: 0, maximum: MAX_INTEGER, default: 0 }),
    limit: Type.Integer({ minimum: 1, maximum: 1000, default: 200 }),
    /** Read backwards: the items before this sequence number (past the end: the last page); `after` unused. */
    before: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_INTEGER })),
  },
  { additionalProperties: false },
)

const ExportBody = Type.Object(
  { format: Type.Union(EXPORT_FORMATS.map((format) => Type.Literal(format))) },
  { additionalProperties: false },
)

/** The JSON export (documentation only: the export is sent as the file it is, never serialised). */
const JsonExport = Type.Object({
  session: ref('Session'),
  exported_at: Type.String({ format: 'date-time' }),
  items: Type.Array(ref('HistoryItem')),
})

export const historyRoutes: FastifyPluginAsync<{ gateway: GatewayContext }> = async (app, { gateway }) => {
  const { engine, bus } = gateway
  app.addSchema(HistoryItemSchema)
  app.addSchema(HistoryPageSchema)

  app.get<{ Params: Static<typeof SessionParams>; Querystring: Static<typeof HistoryQuery> }>(
    '/sessions/:id/history',
    {
      schema: {
        operationId: 'getHistory',
        tags: ['sessions'],
        summary: "A session's history",
        description:
          'The conversation as it happened, from the event log, without token deltas, state changes and ' +
          'usage; paged by sequence number, forwards (`after`, `next_after`, `has_more`) or backwards from ' +
          'the end (`before`, `next_before`).',
        params: SessionParams,
        querystring: HistoryQuery,
        response: sessionResponses(
          { 200: json('A page of history items.', ref('HistoryPage')) },
          QUERY_ERRORS,
        ),
      },
    },
    async (request): Promise<HistoryPage> => {
      const { id } = request.params
      await sessionOrThrow(engine, id)
      const { after, before, limit } = request.query
      return before === undefined
        ? historyPage(bus, id, after, limit)
        : historyPageBefore(bus, id, before, limit)
    },
  )

  app.post<{ Params: Static<typeof SessionParams>; Body: Static<typeof ExportBody> }>(
    '/sessions/:id/export',
    {
      schema: {
        operationId: 'exportSession',
        tags: ['sessions'],
        summary: "Export a session's history",
        description:
          'The whole history as a download (Content-Disposition: attachment), in the format asked.',
        params: SessionParams,
        body: ExportBody,
        response: sessionResponses(
          {
            200: {
              description: 'The export.',
              content: {
                'application/json': { schema: JsonExport },
                'text/markdown': { schema: { type: 'string' } },
                'text/html': { schema: { type: 'string' } },
              },
            },
          },
          BODY_ERRORS,
        ),
      },
    },
    async (request, reply) => {
      const { body, type, fileName } = await exportOf(gateway, request.params.id, request.body.format)
      return reply
        .header('content-disposition', `attachment; filename="${fileName}"`)
        .header('x-content-type-options', 'nosniff')
        .type(type)
        .send(body)
    },
  )

  app.post<{ Params: Static<typeof SessionParams>; Body: Static<typeof ThinkingSchema> }>(
    '/sessions/:id/thinking',
    {
      schema: {
        operationId: 'setThinking',
        tags: ['sessions'],
        summary: "Set a session's thinking",
        description: 'For its next turns; the same as PUT /context with `thinking`.',
        params: SessionParams,
        body: ThinkingSchema,
        response: sessionResponses(
          { 200: json('The session with its new settings.', ref('Session')) },
          BODY_ERRORS,
        ),
      },
    },
    async (request) =>
      changeSettings(gateway, request.principal, request.params.id, () => ({
        thinking: thinkingSetting(request.body),
      })),
  )
}
