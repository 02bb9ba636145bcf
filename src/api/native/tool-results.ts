/**
 * What each direct tool answers (`POST /api/sessions/{id}/tools/{name}`): one schema per tool, registered
 * by the tools plugin under its name (`ReadResult`, ...), and the route's 200 as a oneOf of them.
 *
 * Fastify serialises a oneOf with the first branch the answer validates against, and drops what that
 * branch does not declare. So every branch is closed (`additionalProperties: false`): an edit's result,
 * which has all of a write's fields and more, matches only EditResult. And each schema is checked at
 * compile time to declare exactly the fields of its tool's result type (src/tools/*).
 */
import { type Static, type TObject, Type } from '@sinclair/typebox'
import type {
  BashResult,
  EditResult,
  GlobResult,
  ReadResult,
  SearchResult,
  ToolName,
  WriteResult,
} from '../../tools/index.js'
import { Enum, json, Nullable, ref } from '../responses.js'

/** `Result` has the same fields as the schema, each of a type the schema accepts; else never. */
type Declared<Schema, Result> = [keyof Result] extends [keyof Schema]
  ? [keyof Schema] extends [keyof Result]
    ? [Result] extends [Schema]
      ? unknown
      : never
    : never
  : never

/** The schema of a tool's `Result`, closed; a compile error when it does not declare `Result` exactly. */
const resultOf =
  <Result>() =>
  <S extends TObject>(schema: S & Declared<Static<S>, Result>): S =>
    schema

const closed = (id: string, title: string) => ({ $id: id, title, additionalProperties: false })

const ReadResultSchema = resultOf<ReadResult>()(
  Type.Object(
    {
      filePath: Type.String({ description: "The file's real path." }),
      relativePath: Type.String(),
      content: Type.String({
        description: '`cat -n` format: line number right-aligned to 6, a tab, the text.',
      }),
      startLine: Type.Integer(),
      numLines: Type.Integer(),
      totalLines: Type.Integer(),
      truncated: Type.Boolean(),
      truncatedLines: Type.Integer(),
    },
    closed('ReadResult', 'read result'),
  ),
)

/** What a write and an edit both answer: the file written, and its content before. */
const FileWriteFields = {
  type: Enum(['create', 'update']),
  filePath: Type.String(),
  relativePath: Type.String(),
  originalFile: Nullable(Type.String()),
}

const WriteResultSchema = resultOf<WriteResult>()(
  Type.Object(
    {
      ...FileWriteFields,
      originalOmitted: Type.Optional(
        Type.Boolean({ description: 'Present (true) when the previous content was binary or too large.' }),
      ),
    },
    closed('WriteResult', 'write result'),
  ),
)

const EditResultSchema = resultOf<EditResult>()(
  Type.Object(
    {
      ...FileWriteFields,
      updatedFile: Type.String(),
      replacements: Type.Integer(),
    },
    closed('EditResult', 'edit result'),
  ),
)

const GlobResultSchema = resultOf<GlobResult>()(
  Type.Object(
    {
      filenames: Type.Array(Type.String()),
      numFiles: Type.Integer(),
      truncated: Type.Boolean(),
      durationMs: Type.Number(),
    },
    closed('GlobResult', 'glob result'),
  ),
)

const SearchResultSchema = resultOf<SearchResult>()(
  Type.Object(
    {
      mode: Enum(['files_with_matches', 'content', 'count']),
      filenames: Type.Array(Type.String()),
      numFiles: Type.Integer(),
      content: Type.Optional(Type.String()),
      numLines: Type.Optional(Type.Integer()),
      numMatches: Type.Optional(Type.Integer()),
      appliedLimit: Type.Integer(),
      appliedOffset: Type.Integer(),
      truncated: Type.Boolean(),
      timedOut: Type.Boolean(),
      filesSearched: Type.Integer(),
    },
    closed('SearchResult', 'search result'),
  ),
)

const BashResultSchema = resultOf<BashResult>()(
  Type.Object(
    {
      stdout: Type.String(),
      stderr: Type.String(),
      exitCode: Nullable(Type.Integer()),
      signal: Nullable(Type.String()),
      timedOut: Type.Boolean(),
      aborted: Type.Boolean(),
      durationMs: Type.Number(),
      truncated: Type.Boolean(),
    },
    closed('BashResult', 'bash result'),
  ),
)

/** The schema of each direct tool's result, by tool name. */
export const TOOL_RESULT_SCHEMAS = {
  read: ReadResultSchema,
  write: WriteResultSchema,
  edit: EditResultSchema,
  glob: GlobResultSchema,
  search: SearchResultSchema,
  bash: BashResultSchema,
} as const satisfies Record<ToolName, TObject>

const ids = Object.entries(TOOL_RESULT_SCHEMAS).map(([name, schema]) => [name, schema.$id!] as const)

/** The 200 of `POST /sessions/{id}/tools/{name}`: the result of the tool named in the path. */
export const toolResultResponse = json(
  `The result of the tool named in the path: ${ids.map(([name, id]) => `${name}: ${id}`).join(', ')}.`,
  // The branches are closed, so exactly one fits: a oneOf.
  Type.Unsafe({ oneOf: ids.map(([, id]) => ref(id)) }),
)
