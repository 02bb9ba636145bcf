/**
 * What a user used against their quotas (src/users/quotas.ts): `GET /api/me/usage` for the caller,
 * `GET /api/users/:name/usage` for admins and viewers (a user may name only themself: any other name is
 * answered as one that does not exist).
 */
import { type Static, Type } from '@sinclair/typebox'
import type { FastifyPluginAsync } from 'fastify'
import type { GatewayContext } from '../../gateway.js'
import type { Principal } from '../../users/principal.js'
import type { QuotaLimits, QuotaReport } from '../../users/quotas.js'
import { json, Nullable } from '../responses.js'
import { notFound } from './errors.js'
import { NATIVE_COMMON, nativeErrors } from './responses.js'
import { QUOTA_FIELDS } from './user-views.js'

const Limits = (description: string, each: string) =>
  Type.Object(
    Object.fromEntries(
      Object.keys(QUOTA_FIELDS).map((field) => [field, Nullable(Type.Number({ minimum: 0 }))]),
    ),
    { additionalProperties: false, description: `${description} By limit; null: ${each}.` },
  )

const Count = (description: string) => Type.Integer({ minimum: 0, description })
const Amount = (description: string) => Type.Number({ minimum: 0, description })
const Time = (description: string) => Type.String({ format: 'date-time', description })

export const UsageView = Type.Object(
  {
    user: Nullable(Type.String(), { description: "The user; null: the gateway's operator (not metered)." }),
    quotas: Limits('Their limits: their own quotas over `users.defaultQuotas`.', 'no limit'),
    used: Type.Object(
      {
        requests_last_minute: Count('Requests that started a turn in the last 60 seconds.'),
        concurrent_turns: Count('Turns running in their sessions now.'),
        live_sessions: Count('Their sessions that are not closed.'),
        tokens_today: Count('Input and output tokens of their turns today (UTC).'),
        tokens_this_month: Count('Input and output tokens this month (UTC).'),
        usd_today: Amount('Cost of their turns today (UTC), as Claude Code reports it.'),
        usd_this_month: Amount('Cost this month (UTC).'),
      },
      { additionalProperties: false },
    ),
    remaining: Limits('What is left of each limit (0 when reached: the next turn is refused).', 'no limit'),
    resets: Type.Object(
      {
        day: Time('When the daily limits start again (next UTC midnight).'),
        month: Time('When the monthly limits start again (the 1st of next month, UTC).'),
      },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
)
type UsageView = Static<typeof UsageView>

const NameParams = Type.Object({ name: Type.String({ minLength: 1, maxLength: 64 }) })

export const usageRoutes: FastifyPluginAsync<{ gateway: GatewayContext }> = async (app, { gateway }) => {
  app.get(
    '/me/usage',
    {
      schema: {
        operationId: 'getMyUsage',
        tags: ['users'],
        summary: 'What the caller used against their quotas',
        description:
          'Their limits, what they used (requests in the last minute, turns running, live sessions, tokens ' +
          'and cost today and this month, UTC), what is left, and when the daily and monthly limits reset.',
        response: {
          200: json('Their usage.', UsageView),
          ...nativeErrors({ 404: 'not_found: the caller’s user was removed meanwhile.', ...NATIVE_COMMON }),
        },
      },
    },
    async (request) => {
      const { id } = request.principal
      const report = await gateway.users.quotas.report(id)
      // The caller's user removed while the request ran: gone, as for anyone naming them.
      if (!report) throw notFound(`User ${id}`)
      return usageView(report)
    },
  )

  app.get<{ Params: Static<typeof NameParams> }>(
    '/users/:name/usage',
    {
      schema: {
        operationId: 'getUserUsage',
        tags: ['users'],
        summary: 'What a user used against their quotas',
        description:
          'As GET /api/me/usage, for any user (admins and viewers); a user may name only themself, any ' +
          'other name is answered as one that does not exist.',
        params: NameParams,
        response: {
          200: json('Their usage.', UsageView),
          ...nativeErrors({ 404: 'not_found: no such user (for a user: any other user).', ...NATIVE_COMMON }),
        },
      },
    },
    async (request) => {
      const { name } = request.params
      const report = mayRead(request.principal, name) ? await gateway.users.quotas.report(name) : undefined
      if (!report) throw notFound(`User ${name}`, 'params.name')
      return usageView(report)
    },
  )
}

/** Admins and viewers read anyone's usage; a user only their own. */
const mayRead = (principal: Principal, name: string): boolean =>
  principal.role !== 'user' || principal.id === name

export function usageView(report: QuotaReport): UsageView {
  const { used } = report
  return {
    user: report.user,
    quotas: limitsView(report.quotas),
    used: {
      requests_last_minute: used.requestsLastMinute,
      concurrent_turns: used.concurrentTurns,
      live_sessions: used.liveSessions,
      tokens_today: used.tokensToday,
      tokens_this_month: used.tokensThisMonth,
      usd_today: used.usdToday,
      usd_this_month: used.usdThisMonth,
    },
    remaining: limitsView(report.remaining),
    resets: {
      day: new Date(report.resets.day).toISOString(),
      month: new Date(report.resets.month).toISOString(),
    },
  }
}

const limitsView = (limits: QuotaLimits): Record<string, number | null> =>
  Object.fromEntries(Object.entries(QUOTA_FIELDS).map(([field, name]) => [field, limits[name]]))
