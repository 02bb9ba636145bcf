/**
 * A session's workspace files: upload into it (`multipart/form-data`), list it, download one file. Paths are
 * confined to the workspace as the direct tools' are (src/tools/confinement.ts); an upload is recorded in the
 * session's events like a direct tool call, with a `file.changed` per file.
 */
import { basename } from 'node:path'
import multipart, { type Multipart, type MultipartFile, type MultipartValue } from '@fastify/multipart'
import { type Static, Type } from '@sinclair/typebox'
import { create as contentDisposition } from 'content-disposition'
import type { FastifyError, FastifyPluginAsync, FastifyRequest } from 'fastify'
import { contentType } from 'mime-types'
import type { Config } from '../../config/index.js'
import type { GatewayContext } from '../../gateway.js'
import { openForReading } from '../../tools/confined-files.js'
import { confineTo, ToolError, workspaceRoot } from '../../tools/confinement.js'
import { listWorkspace } from '../../tools/listing.js'
import { Upload, UploadConflict } from '../../tools/upload.js'
import { json, raw, ref } from '../responses.js'
import { MAX_INTEGER } from '../validation.js'
import { ApiError, fromToolError, invalid } from './errors.js'
import {
  entryView,
  FILE_SCHEMAS,
  type FileListingView,
  treeOf,
  type UploadView,
  uploadedView,
} from './file-views.js'
import { sessionOrThrow } from './resolve.js'
import { sessionResponses } from './responses.js'
import { SessionParams } from './schemas.js'

/** Longest value of a form field (`path`, `overwrite`), in bytes. */
const FIELD_MAX_BYTES = 4096
/** Form fields read before the parser gives up: the known ones, and room to name an unknown one. */
const FIELDS_MAX = 16

const UploadForm = Type.Object(
  {
    path: Type.Optional(
      Type.String({
        description:
          'The folder to upload into: relative to the workspace, or absolute inside it (default: the ' +
          'workspace). Created when missing. Must come before the files.',
      }),
    ),
    overwrite: Type.Optional(
      Type.Unsafe<'true' | 'false'>({
        type: 'string',
        enum: ['true', 'false'],
        default: 'false',
        description: 'Replace files that exist (else the upload fails with 409). Must come before the files.',
      }),
    ),
    files: Type.Array(Type.String({ format: 'binary' }), {
      description:
        'The files (any field name): each is written into the folder under its file name, without the ' +
        "client's folders.",
    }),
  },
  { additionalProperties: false },
)

const ListQuery = Type.Object(
  {
    path: Type.Optional(
      Type.String({
        minLength: 1,
        description:
          'The folder to list: relative to the workspace, or absolute inside it (default: the workspace).',
      }),
    ),
    depth: Type.Integer({
      minimum: 1,
      maximum: MAX_INTEGER,
      default: 1,
      description: "Folder levels to list: 1 lists the folder's own entries, 2 also theirs, ...",
    }),
    flat: Type.Boolean({
      default: false,
      description: 'One list (folders before their entries) instead of a tree of `children`.',
    }),
    include_ignored: Type.Boolean({
      default: false,
      description: 'Also list what .gitignore and .ignore files ignore (version control folders never are).',
    }),
  },
  { additionalProperties: false },
)

const ContentQuery = Type.Object(
  {
    path: Type.String({
      minLength: 1,
      description: 'The file: relative to the workspace, or absolute inside it.',
    }),
  },
  { additionalProperties: false },
)

export const fileRoutes: FastifyPluginAsync<{ gateway: GatewayContext }> = async (app, { gateway }) => {
  const { engine } = gateway
  for (const schema of FILE_SCHEMAS) app.addSchema(schema)
  // Only this plugin's routes take multipart bodies; a file over the size limit is reported by the route.
  await app.register(multipart, { throwFileSizeLimit: false })

  app.post<{ Params: Static<typeof SessionParams> }>(
    '/sessions/:id/files/upload',
    {
      schema: {
        operationId: 'uploadFiles',
        tags: ['files'],
        summary: "Upload files into the session's workspace",
        description:
          'A multipart/form-data form: optional `path` and `overwrite` fields, then one or more files. The ' +
          'files are put in place once all of them arrived: a failed upload (a file over ' +
          '`native.uploadMaxFileBytes` or more than `native.uploadMaxFiles` files: 413; an existing file ' +
          'without `overwrite`: 409; a path out of the workspace: 403) leaves nothing behind. Recorded as a ' +
          'direct `upload` call with a `file.changed` event per file.',
        consumes: ['multipart/form-data'],
        params: SessionParams,
        response: sessionResponses(
          { 201: json('Where the files were written.', ref('Upload')) },
          {
            400: 'validation_error: an unknown field, a field after the files or given twice, `overwrite` not true or false, no file; invalid_input: `path` is a file, a file name is a folder or comes twice; bad_request: not a valid form.',
            403: 'path_outside_workspace, permission_denied.',
            409: 'already_exists: a file exists and `overwrite` is not true.',
            413: 'payload_too_large: a file over native.uploadMaxFileBytes, more than native.uploadMaxFiles files, or too many fields.',
            415: 'unsupported_media_type: the body is not multipart/form-data.',
          },
        ),
      },
      // The form is read as a stream by the handler, which checks it; its schema is the documentation.
      config: { docs: { body: UploadForm } },
    },
    async (request, reply) => {
      const { id } = request.params
      const record = await sessionOrThrow(engine, id)
      if (!request.isMultipart())
        throw new ApiError('unsupported_media_type', 'An upload is a multipart/form-data body')
      const limits = gateway.config.native
      const form = new FormFields()
      let upload: Upload | undefined
      try {
        for await (const part of formParts(request, limits)) {
          if (part.type === 'field') {
            if (upload)
              throw invalid(`body.${part.fieldname} must come before the files`, `body.${part.fieldname}`)
            form.read(part)
            continue
          }
          upload ??= await Upload.into(record.settings.workspace, form.path, form.overwrite)
          await addFile(upload, part, limits)
          if (part.file.truncated) {
            throw new ApiError(
              'payload_too_large',
              `${part.filename} is larger than ${limits.uploadMaxFileBytes} bytes (native.uploadMaxFileBytes)`,
              { field: 'body.files' },
            )
          }
        }
        if (!upload) throw invalid('body.files must hold at least one file', 'body.files')
        const staged = upload
        const input = { path: staged.path, overwrite: form.overwrite, files: staged.names }
        const files = await engine.recordDirectCall(
          id,
          'upload',
          input,
          () => staged.commit(),
          (done) =>
            done.map((file) => ({ path: file.filePath, kind: file.created ? 'created' : 'modified' })),
        )
        const answer: UploadView = { path: staged.path, files: files.map(uploadedView) }
        return reply.code(201).send(answer)
      } catch (error) {
        await upload?.discard()
        // The rest of the body is read and dropped, so that the client gets the answer rather than a reset.
        request.raw.unpipe()
        request.raw.resume()
        throw uploadError(error)
      }
    },
  )

  app.get<{ Params: Static<typeof SessionParams>; Querystring: Static<typeof ListQuery> }>(
    '/sessions/:id/files',
    {
      schema: {
        operationId: 'listFiles',
        tags: ['files'],
        summary: "List the session's workspace",
        description:
          'Files, folders and symlinks with their size and modification time, as a tree (or `flat`), down ' +
          'to `depth` levels. Left out: version control folders, symlinks to folders or out of the ' +
          'workspace, and (unless `include_ignored`) what .gitignore and .ignore files ignore. At most ' +
          '`native.filesListMaxEntries` entries (`truncated` when there were more).',
        params: SessionParams,
        querystring: ListQuery,
        response: sessionResponses(
          { 200: json('The listing: a tree of `children`, or flat.', ref('FileListing')) },
          {
            400: 'validation_error: a query parameter is invalid or unknown; invalid_input: `path` is a file.',
            403: 'path_outside_workspace, permission_denied.',
            404: 'not_found: no such session (or closed), or no such folder.',
          },
        ),
      },
    },
    async (request): Promise<FileListingView> => {
      const record = await sessionOrThrow(engine, request.params.id)
      const { path, depth, flat, include_ignored } = request.query
      const listing = await fromTools(
        () =>
          listWorkspace(record.settings.workspace, {
            ...(path === undefined ? {} : { path }),
            depth,
            includeIgnored: include_ignored,
            maxEntries: gateway.config.native.filesListMaxEntries,
            walkMaxEntries: gateway.config.tools.walkMaxEntries,
          }),
        'querystring',
      )
      const entries = listing.entries.map(entryView)
      return {
        path: listing.path,
        entries: flat ? entries : treeOf(listing.path, depth, entries),
        truncated: listing.truncated,
      }
    },
  )

  app.get<{ Params: Static<typeof SessionParams>; Querystring: Static<typeof ContentQuery> }>(
    '/sessions/:id/files/content',
    {
      schema: {
        operationId: 'downloadFile',
        tags: ['files'],
        summary: 'Download a file of the workspace',
        description:
          'The raw bytes, with a Content-Type from the file name (application/octet-stream when unknown) and ' +
          'Content-Disposition: attachment.',
        params: SessionParams,
        querystring: ContentQuery,
        response: sessionResponses(
          {
            200: {
              ...raw(
                'application/octet-stream',
                "The file's bytes. Content-Type from its name (application/octet-stream when unknown), " +
                  'Content-Length, Content-Disposition: attachment, X-Content-Type-Options: nosniff.',
                { type: 'string', format: 'binary' },
              ),
              headers: {
                'content-disposition': { type: 'string', description: '`attachment` with the file name.' },
                'x-content-type-options': { type: 'string', enum: ['nosniff'] },
              },
            },
          },
          {
            400: 'validation_error: `path` is missing, or a query parameter is unknown; invalid_input: `path` is not a file.',
            403: 'path_outside_workspace, permission_denied.',
            404: 'not_found: no such session (or closed), or no such file.',
          },
        ),
      },
    },
    async (request, reply) => {
      const record = await sessionOrThrow(engine, request.params.id)
      const { path } = request.query
      const file = await fromTools(async () => {
        const root = await workspaceRoot(record.settings.workspace)
        const real = await confineTo(root, path, 'path')
        // Sent from a descriptor checked to lead inside the workspace, not by path (see openForReading).
        const handle = await openForReading(root, real, path, 'path')
        try {
          const info = await handle.stat()
          if (!info.isFile()) throw new ToolError('invalid_input', `${path} is not a file`, { field: 'path' })
          return { real, size: info.size, handle }
        } catch (error) {
          await handle.close()
          throw error
        }
      }, 'querystring')
      const name = basename(file.real)
      return reply
        .type(contentType(name) || 'application/octet-stream')
        .header('content-length', file.size)
        .header('content-disposition', contentDisposition(name))
        .header('x-content-type-options', 'nosniff')
        .send(file.handle.createReadStream())
    },
  )
}

/** The `path` and `overwrite` fields of an upload form. */
class FormFields {
  path: string | undefined
  overwrite = false
  private readonly seen = new Set<string>()

  read(part: MultipartValue): void {
    const field = `body.${part.fieldname}`
    if (part.fieldname !== 'path' && part.fieldname !== 'overwrite')
      throw invalid(`${field} is not a field of an upload (path, overwrite, then files)`, field)
    if (this.seen.has(part.fieldname)) throw invalid(`${field} is given twice`, field)
    this.seen.add(part.fieldname)
    if (part.valueTruncated) throw invalid(`${field} is longer than ${FIELD_MAX_BYTES} bytes`, field)
    const value = String(part.value)
    if (part.fieldname === 'path') {
      if (value === '') throw invalid(`${field} must not be empty`, field)
      this.path = value
    } else if (value === 'true' || value === 'false') this.overwrite = value === 'true'
    else throw invalid(`${field} must be true or false`, field)
  }
}

/** The parts of a multipart body, the parser's own failures as API errors. */
async function* formParts(request: FastifyRequest, limits: Config['native']): AsyncGenerator<Multipart> {
  const parts = request.parts({
    limits: {
      fileSize: limits.uploadMaxFileBytes,
      files: limits.uploadMaxFiles,
      fields: FIELDS_MAX,
      fieldSize: FIELD_MAX_BYTES,
      parts: limits.uploadMaxFiles + FIELDS_MAX,
    },
  })
  for (;;) {
    let next: IteratorResult<Multipart>
    try {
      next = await parts.next()
    } catch (error) {
      throw formError(error, limits)
    }
    if (next.done) return
    yield next.value
  }
}

function formError(error: unknown, limits: Config['native']): ApiError {
  const { code, message } = error as FastifyError
  switch (code) {
    case 'FST_FILES_LIMIT':
      return new ApiError(
        'payload_too_large',
        `An upload may hold at most ${limits.uploadMaxFiles} files (native.uploadMaxFiles)`,
        { field: 'body.files' },
      )
    case 'FST_PARTS_LIMIT':
    case 'FST_FIELDS_LIMIT':
      return new ApiError('payload_too_large', 'The form has too many fields')
    default:
      return new ApiError('bad_request', `The body is not a valid multipart/form-data form: ${message}`)
  }
}

/**
 * Stores one file of the form. The form itself can break while the file is read (a body cut short, a
 * missing closing boundary): that is the client's malformed request, a 400 like any other broken form,
 * while a failure to write it (confinement, a full disk) keeps its own answer.
 */
async function addFile(upload: Upload, part: MultipartFile, limits: Config['native']): Promise<void> {
  try {
    await upload.add(part.filename, part.file)
  } catch (error) {
    // The parser errors the file's stream when the form breaks, possibly before this began to read it.
    throw part.file.errored ? formError(part.file.errored, limits) : error
  }
}

/** An upload's failure in the native shape. */
function uploadError(error: unknown): unknown {
  if (error instanceof UploadConflict)
    return new ApiError('already_exists', error.message, { field: 'body.files' })
  return error instanceof ToolError ? fromToolError(error, 'body') : error
}

async function fromTools<T>(run: () => Promise<T>, part: 'body' | 'querystring'): Promise<T> {
  try {
    return await run()
  } catch (error) {
    throw error instanceof ToolError ? fromToolError(error, part) : error
  }
}
