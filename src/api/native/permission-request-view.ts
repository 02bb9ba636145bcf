/**
 * A permission request waiting for an answer as the API shows it (`GET /api/sessions/{id}/permissions`),
 * made from its `permission.requested` event. The admin UI shows the live stream's requests with it too,
 * so it imports types only (the UI bundles it).
 */
import type { EventOf } from '../../events/types.js'

/** `expiresAt`: when it is denied unanswered (ms since the epoch); null: never, or not known. */
export const permissionRequestView = (
  requested: EventOf<'permission.requested'>,
  expiresAt: number | null,
) => ({
  request_id: requested.requestId,
  tool_use_id: requested.toolUseId,
  tool_name: requested.toolName,
  input: requested.input,
  ...(requested.reason !== undefined ? { reason: requested.reason } : {}),
  turn_id: requested.turnId,
  requested_at: new Date(requested.ts).toISOString(),
  expires_at: expiresAt === null ? null : new Date(expiresAt).toISOString(),
})
