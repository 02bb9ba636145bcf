/**
 * What a user message may hold. Claude Code takes a message it cannot use without a word: a text block
 * whose `text` is not a string, for one, is dropped and no turn ever runs. So the engine refuses such
 * content before a turn starts, whichever API it came through, naming the part at fault.
 */

/** The image formats Claude's API accepts inline. */
export const IMAGE_MEDIA_TYPES = ['image/jpeg', 'image/png', 'image/gif', 'image/webp'] as const
/** The block types a user message may hold: the ones Claude's API takes from a user and the APIs document. */
export const USER_BLOCK_TYPES = ['text', 'image', 'document'] as const

/** Why content cannot be sent: the field at fault (`content[1].source.data`) and what is wrong with it. */
export interface ContentProblem {
  field: string
  problem: string
}

/**
 * Standard base64 (padded). Checked as an alphabet run plus the length: one pattern that also counted the
 * groups of four would exhaust the regex engine's stack on an image of a few megabytes.
 */
const BASE64_ALPHABET = /^[A-Za-z0-9+/]*={0,2}$/

export function isBase64(data: string): boolean {
  return data.length > 0 && data.length % 4 === 0 && BASE64_ALPHABET.test(data)
}

/** Why `content` cannot be sent as a user message, or undefined when it can. */
export function contentProblem(content: unknown): ContentProblem | undefined {
  if (typeof content === 'string')
    return content.length > 0 ? undefined : fault('content', 'must not be empty')
  if (!Array.isArray(content)) return fault('content', 'must be a string or an array of content blocks')
  if (content.length === 0) return fault('content', 'must hold at least one block')
  for (const [index, block] of content.entries()) {
    const problem = blockProblem(block, `content[${index}]`)
    if (problem) return problem
  }
  return undefined
}

function blockProblem(block: unknown, field: string): ContentProblem | undefined {
  if (!isObject(block)) return fault(field, 'must be an object')
  switch (block.type) {
    case 'text':
      return typeof block.text === 'string' && block.text.length > 0
        ? undefined
        : fault(`${field}.text`, 'must be a non-empty string')
    case 'image':
      return sourceProblem(block.source, `${field}.source`, IMAGE_SOURCES)
    case 'document':
      return sourceProblem(block.source, `${field}.source`, DOCUMENT_SOURCES)
    default:
      return fault(`${field}.type`, `must be one of ${USER_BLOCK_TYPES.join(', ')}`)
  }
}

/** Checks a block's source of one type (`source.type` chose it) for the fields that type needs. */
type SourceCheck = (source: Record<string, unknown>, field: string) => ContentProblem | undefined

/** A source whose `media_type` is one of `mediaTypes` and whose `data` `dataProblem` checks. */
function typedData(
  mediaTypes: readonly string[],
  dataProblem: (data: unknown, field: string) => ContentProblem | undefined,
): SourceCheck {
  return (source, field) => {
    if (!mediaTypes.includes(source.media_type as string))
      return fault(
        `${field}.media_type`,
        mediaTypes.length === 1 ? `must be ${mediaTypes[0]}` : `must be one of ${mediaTypes.join(', ')}`,
      )
    return dataProblem(source.data, `${field}.data`)
  }
}

const urlSource: SourceCheck = (source, field) => urlProblem(source.url, `${field}.url`)

/** The sources an image block may have, by `source.type`. */
const IMAGE_SOURCES: Record<string, SourceCheck> = {
  base64: typedData(IMAGE_MEDIA_TYPES, base64Problem),
  url: urlSource,
}

/** The sources a document block may have, by `source.type`. */
const DOCUMENT_SOURCES: Record<string, SourceCheck> = {
  base64: typedData(['application/pdf'], base64Problem),
  text: typedData(['text/plain'], (data, field) =>
    typeof data === 'string' ? undefined : fault(field, 'must be a string'),
  ),
  url: urlSource,
  content: (source, field) => documentContentProblem(source.content, `${field}.content`),
}

/** Why a block's source cannot be sent: its `type` must be one of `checks`, and that type's check must pass. */
function sourceProblem(
  source: unknown,
  field: string,
  checks: Record<string, SourceCheck>,
): ContentProblem | undefined {
  if (!isObject(source)) return fault(field, 'must be an object')
  if (typeof source.type === 'string' && Object.hasOwn(checks, source.type))
    return checks[source.type]!(source, field)
  const types = Object.keys(checks)
  return fault(`${field}.type`, `must be ${types.slice(0, -1).join(', ')} or ${types.at(-1)}`)
}

/** A document made of blocks: text and images only, as Claude's API allows. */
function documentContentProblem(content: unknown, field: string): ContentProblem | undefined {
  if (typeof content === 'string') return content.length > 0 ? undefined : fault(field, 'must not be empty')
  if (!Array.isArray(content) || content.length === 0)
    return fault(field, 'must be a non-empty string or array of text and image blocks')
  for (const [index, block] of content.entries()) {
    const inner = `${field}[${index}]`
    if (isObject(block) && block.type !== 'text' && block.type !== 'image')
      return fault(`${inner}.type`, 'must be text or image')
    const problem = blockProblem(block, inner)
    if (problem) return problem
  }
  return undefined
}

function base64Problem(data: unknown, field: string): ContentProblem | undefined {
  if (typeof data !== 'string' || data.length === 0) return fault(field, 'must be non-empty base64')
  return isBase64(data) ? undefined : fault(field, 'is not valid base64')
}

function urlProblem(url: unknown, field: string): ContentProblem | undefined {
  if (typeof url !== 'string') return fault(field, 'must be a string')
  return /^https?:\/\//i.test(url) ? undefined : fault(field, 'must be an http(s) URL')
}

function fault(field: string, problem: string): ContentProblem {
  return { field, problem }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}
