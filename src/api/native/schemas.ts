/** Request schemas several native routes share. */
import { type Static, Type } from '@sinclair/typebox'
import type { ThinkingSetting } from '../../store/types.js'
import { MAX_INTEGER } from '../validation.js'
import { invalid } from './errors.js'

/** The `{id}` of a route under `/sessions/{id}`. */
export const SessionParams = Type.Object({ id: Type.String({ minLength: 1, description: 'The session.' }) })

/** `limit` and `offset` of a list paged by position; `what` names its items ("Sessions"). */
export const pageQuery = (what: string) => ({
  limit: Type.Integer({ minimum: 1, maximum: 500, default: 50, description: `${what} per page.` }),
  offset: Type.Integer({
    minimum: 0,
    maximum: MAX_INTEGER,
    default: 0,
    description: `${what} to skip (after any filter).`,
  }),
})

/** Where a session's event stream starts: its replay of the stored events after `after`. */
export const ReplayQuery = Type.Object(
  {
    after: Type.Optional(
      Type.Integer({
        minimum: 0,
        maximum: MAX_INTEGER,
        description: 'Replay the stored events after this sequence number first.',
      }),
    ),
  },
  { additionalProperties: false },
)

export const ThinkingSchema = Type.Union([
  Type.Object(
    { type: Type.Literal('enabled'), budget_tokens: Type.Integer({ minimum: 1024, maximum: MAX_INTEGER }) },
    { additionalProperties: false },
  ),
  Type.Object({ type: Type.Literal('disabled') }, { additionalProperties: false }),
  Type.Object({ type: Type.Literal('adaptive') }, { additionalProperties: false }),
])

/** The API's thinking setting in engine terms (`budget_tokens` → `budgetTokens`). */
export function thinkingSetting(thinking: Static<typeof ThinkingSchema>): ThinkingSetting {
  return thinking.type === 'enabled'
    ? { type: 'enabled', budgetTokens: thinking.budget_tokens }
    : { type: thinking.type }
}

/** What a `Last-Event-ID` holds on each stream, as its refusal names it. */
const CURSORS = { seq: "event's sequence number", pos: "event's position" } as const

/**
 * The cursor of a `Last-Event-ID` header (what a reconnecting EventSource sends back: an event's `id`,
 * its `seq` on a session's streams, its global position on GET /api/events, as `cursor` says); undefined
 * without one. Anything else is refused, naming the header, rather than replayed from somewhere the client
 * did not ask for.
 */
export function lastEventId(
  header: string | string[] | undefined,
  cursor: keyof typeof CURSORS,
): number | undefined {
  if (header === undefined || header === '') return undefined
  // Sent twice, it is two values (Node keeps a list for some names): neither is the one to resume from.
  const value = typeof header === 'string' && /^\d{1,16}$/.test(header) ? Number(header) : Number.NaN
  if (!(value <= MAX_INTEGER)) {
    throw invalid(
      `headers.last-event-id must be an ${CURSORS[cursor]} (an integer from 0 to ${MAX_INTEGER})`,
      'headers.last-event-id',
    )
  }
  return value
}
