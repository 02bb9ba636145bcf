/**
 * The content of a user message, as the native API takes it (HTTP and WebSocket alike): text, or Anthropic
 * content blocks. The schema gives each block's fields their types; what a block of a given type needs (a
 * text block its text, an image a source Claude's API takes, base64 that is base64) the engine checks before
 * the turn starts (src/engine/content.ts), so every API refuses the same content with a message naming it.
 */
import { Type } from '@sinclair/typebox'
import { IMAGE_MEDIA_TYPES, USER_BLOCK_TYPES } from '../../engine/content.js'

/** A plain `enum` rather than a union of literals: Ajv reports one readable error for it. */
const oneOf = (values: readonly string[], description: string) =>
  Type.Unsafe<string>({ type: 'string', enum: [...values], description })

const Source = Type.Object(
  {
    type: oneOf(
      ['base64', 'url', 'text', 'content'],
      'base64 (image or PDF), url, text (plain-text document), content',
    ),
    media_type: Type.Optional(
      Type.String({
        description: `base64 images: ${IMAGE_MEDIA_TYPES.join(', ')}; base64 documents: application/pdf; text: text/plain`,
      }),
    ),
    data: Type.Optional(
      Type.String({ description: 'base64: the bytes, standard padded base64; text: the text' }),
    ),
    url: Type.Optional(Type.String({ description: 'url: an http(s) URL' })),
    content: Type.Optional(
      Type.Union(
        [Type.String({ minLength: 1 }), Type.Array(Type.Object({ type: Type.String() }), { minItems: 1 })],
        {
          description: "content: the document's text, or text and image blocks",
        },
      ),
    ),
  },
  { additionalProperties: true, description: 'image and document blocks: where the bytes are (required).' },
)

export const ContentBlockSchema = Type.Object(
  {
    type: oneOf(USER_BLOCK_TYPES, 'The block type.'),
    text: Type.Optional(Type.String({ minLength: 1, description: 'text blocks: the text (required).' })),
    source: Type.Optional(Source),
  },
  {
    // Claude's API takes more fields on blocks (cache_control, citations, a document's title and context).
    additionalProperties: true,
    description:
      'An Anthropic content block: `{"type": "text", "text"}`, `{"type": "image", "source"}` or `{"type": "document", "source"}`.',
  },
)

export const MessageContent = Type.Union(
  [Type.String({ minLength: 1 }), Type.Array(ContentBlockSchema, { minItems: 1 })],
  { description: 'The message: text, or content blocks.' },
)
