/**
 * A session's code changes: the rollup (`GET /api/sessions/{id}/changes`), read from the store's
 * `file_changes` read model (line counts counted once, as the events were written), and a file's content at
 * two points of the session for the client to compare (`GET /api/sessions/{id}/changes/file`), read from
 * the two `file.changed` events that tell it (change-log.ts). Both answer as the events are stored.
 */
import { type Static, Type } from '@sinclair/typebox'
import type { FastifyPluginAsync } from 'fastify'
import type { GatewayContext } from '../../gateway.js'
import { Enum, json, Nullable } from '../responses.js'
import { MAX_INTEGER } from '../validation.js'
import { type FileAt, type FileChangeEvent, fileAt } from './change-log.js'
import { ApiError, notFound } from './errors.js'
import { sessionOrThrow } from './resolve.js'
import { QUERY_ERRORS, sessionResponses } from './responses.js'
import { pageQuery, SessionParams } from './schemas.js'

const KINDS = ['created', 'modified', 'deleted'] as const
const Count = (description: string) => Nullable(Type.Integer(), { description })

const ChangeRollupSchema = Type.Object(
  {
    totals: Type.Object({
      files: Type.Integer(),
      added: Type.Integer({ description: 'Lines added, over the changes whose counts are known.' }),
      removed: Type.Integer(),
    }),
    files: Type.Array(
      Type.Object({
        path: Type.String(),
        status: Enum(KINDS, { description: 'What the session did to the file, as of its last change.' }),
        changes: Type.Integer(),
        added: Type.Integer(),
        removed: Type.Integer(),
        last_seq: Type.Integer({ description: 'Sequence number of its last change.' }),
      }),
      { description: 'In the order they were first changed.' },
    ),
    changes: Type.Array(
      Type.Object({
        seq: Type.Integer({ description: 'Sequence number of the `file.changed` event.' }),
        ts: Type.String({ format: 'date-time' }),
        turn_id: Type.String(),
        tool_use_id: Type.String({ description: 'The tool call that made it.' }),
        tool: Type.String(),
        path: Type.String(),
        kind: Enum(KINDS),
        added: Count('null when a side is unknown or larger than native.changeContentMaxBytes.'),
        removed: Count('As `added`.'),
        known: Type.Boolean({
          description: 'Both sides are known (reported by the tool, or by the previous change of the file).',
        }),
      }),
      { description: 'A page of them, oldest first (`limit`, `offset`).' },
    ),
    changes_total: Type.Integer({ description: 'Changes in all pages.' }),
    limit: Type.Integer(),
    offset: Type.Integer(),
  },
  { $id: 'ChangeRollup', description: "A session's code changes, from its `file.changed` events." },
)

const ChangesQuery = Type.Object(pageQuery('Changes'), { additionalProperties: false })

const FileAtSchema = Type.Object({
  seq: Type.Integer({ description: 'The point asked for.' }),
  content: Nullable(Type.String(), { description: 'null when the file did not exist or is unknown.' }),
  exists: Type.Boolean(),
  known: Type.Boolean({ description: 'false: no change up to this point reported the content.' }),
})

const FileComparisonSchema = Type.Object(
  { path: Type.String(), from: FileAtSchema, to: FileAtSchema },
  { $id: 'FileComparison', description: 'A file as of two points of a session.' },
)

const Point = (description: string) => Type.Integer({ minimum: 0, maximum: MAX_INTEGER, description })

const FileQuery = Type.Object(
  {
    path: Type.String({ minLength: 1, description: 'The path as the changes name it.' }),
    from: Type.Optional(Point('Sequence number; 0 (the default): before the session first changed it.')),
    to: Type.Optional(Point('Sequence number; by default, as the session has left it.')),
  },
  { additionalProperties: false },
)

export const changeRoutes: FastifyPluginAsync<{ gateway: GatewayContext }> = async (app, { gateway }) => {
  const { engine, bus, store } = gateway
  app.addSchema(ChangeRollupSchema)
  app.addSchema(FileComparisonSchema)

  app.get<{ Params: Static<typeof SessionParams>; Querystring: Static<typeof ChangesQuery> }>(
    '/sessions/:id/changes',
    {
      schema: {
        operationId: 'getSessionChanges',
        tags: ['sessions'],
        summary: "A session's code changes",
        description:
          'Every file the session created, changed or deleted (its own tools, its subagents and direct calls), ' +
          'rolled up with lines added and removed, and a page of its changes in order.',
        params: SessionParams,
        querystring: ChangesQuery,
        response: sessionResponses(
          { 200: json("The session's changes.", { $ref: 'ChangeRollup#' }) },
          QUERY_ERRORS,
        ),
      },
    },
    async (request): Promise<Static<typeof ChangeRollupSchema>> => {
      const { id } = request.params
      const { limit, offset } = request.query
      await sessionOrThrow(engine, id)
      const { totals, files, changes } = await store.fileChanges(
        id,
        { limit, offset },
        gateway.config.native.changeContentMaxBytes,
      )
      return {
        totals,
        files: files.map(({ lastSeq, ...file }) => ({ ...file, last_seq: lastSeq })),
        changes: changes.items.map((change) => ({
          seq: change.seq,
          ts: new Date(change.ts).toISOString(),
          turn_id: change.turnId,
          tool_use_id: change.toolUseId,
          tool: change.tool,
          path: change.path,
          kind: change.kind,
          added: change.added,
          removed: change.removed,
          known: change.known,
        })),
        changes_total: changes.total,
        limit,
        offset,
      }
    },
  )

  app.get<{ Params: Static<typeof SessionParams>; Querystring: Static<typeof FileQuery> }>(
    '/sessions/:id/changes/file',
    {
      schema: {
        operationId: 'getChangedFile',
        tags: ['sessions'],
        summary: 'A changed file at two points',
        description:
          "A file's content as of two points of the session (after the last change at or before each), " +
          'as its changes reported it; the client compares them.',
        params: SessionParams,
        querystring: FileQuery,
        response: sessionResponses(
          { 200: json('The file at both points.', { $ref: 'FileComparison#' }) },
          {
            ...QUERY_ERRORS,
            404: 'not_found: no such session, or the session never changed the file.',
            413: 'too_large: a content is larger than native.changeContentMaxBytes.',
          },
        ),
      },
    },
    async (request): Promise<Static<typeof FileComparisonSchema>> => {
      const { id } = request.params
      const { path, from = 0, to } = request.query
      await sessionOrThrow(engine, id)
      const eventAt = async (seq: number) =>
        (await store.readEvents(id, { afterSeq: seq - 1, limit: 1, types: ['file.changed'] }))[0] as
          | FileChangeEvent
          | undefined
      const at = async (seq: number, field: string): Promise<FileAt> => {
        const seqs = await store.fileChangeSeqs(id, path, seq)
        if (!seqs) throw notFound(`A change of ${path} in session ${id}`, 'querystring.path')
        const first = await eventAt(seqs.first)
        const last = seqs.last === null ? undefined : await eventAt(seqs.last)
        // An event that cannot be read back (see the log) leaves the content unknown.
        const file =
          first && (seqs.last === null || last)
            ? fileAt(first, last, seq)
            : { seq, content: null, exists: true, known: false }
        return limited(file, gateway.config.native.changeContentMaxBytes, field)
      }
      return {
        path,
        from: await at(from, 'querystring.from'),
        to: await at(to ?? (await bus.loadSeq(id)), 'querystring.to'),
      }
    },
  )
}

/** A content too large to answer with is refused rather than cut: a cut file would compare wrongly. */
function limited(file: FileAt, maxBytes: number, field: string): FileAt {
  if (file.content !== null && Buffer.byteLength(file.content) > maxBytes)
    throw new ApiError(
      'too_large',
      `The file's content at ${file.seq} is larger than native.changeContentMaxBytes (${maxBytes} bytes)`,
      { field },
    )
  return file
}
