/** Request schemas several native routes share. */
import { type Static, Type } from '@sinclair/typebox'
import type { ThinkingSetting } from '../../store/types.js'

/** The `{id}` of a route under `/sessions/{id}`. */
export const SessionParams = Type.Object({ id: Type.String({ minLength: 1, description: 'The session.' }) })

/** `limit` and `offset` of a list paged by position; `what` names its items ("Sessions"). */
export const pageQuery = (what: string) => ({
  limit: Type.Integer({ minimum: 1, maximum: 500, default: 50, description: `${what} per page.` }),
  offset: Type.Integer({ minimum: 0, default: 0, description: `${what} to skip (after any filter).` }),
})

/** Where a session's event stream starts: its replay of the stored events after `after`. */
export const ReplayQuery = Type.Object(
  {
    after: Type.Optional(
      Type.Integer({ minimum: 0, description: 'Replay the stored events after this sequence number first.' }),
    ),
  },
  { additionalProperties: false },
)

export const ThinkingSchema = Type.Union([
  Type.Object(
    { type: Type.Literal('enabled'), budget_tokens: Type.Integer({ minimum: 1024 }) },
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
