/**
 * Figures per agent (`GET /api/agent-stats`): each main agent's turns and each subagent type's runs, with
 * success rate, latency, tokens and cost, from the store's read models (store/read-models.ts). A route of
 * its own rather than `/agents/stats`, which would hide an agent file named `stats`.
 */
import { type Static, Type } from '@sinclair/typebox'
import type { FastifyPluginAsync } from 'fastify'
import type { GatewayContext } from '../../gateway.js'
import type { AgentFigure } from '../../store/types.js'
import { json, Nullable } from '../responses.js'
import { MAX_INTEGER } from '../validation.js'
import { QUERY_RESPONSES } from './responses.js'

const StatsQuery = Type.Object(
  {
    since: Type.Optional(
      Type.Integer({
        minimum: 0,
        maximum: MAX_INTEGER,
        description: 'Only turns and runs started at or after this time (ms since the epoch).',
      }),
    ),
  },
  { additionalProperties: false },
)

const figureSchema = (agent: string, runs: string) =>
  Type.Object({
    agent: Type.Union([Type.String(), Type.Null()], { description: agent }),
    runs: Type.Integer({ description: runs }),
    succeeded: Type.Integer(),
    success_rate: Nullable(Type.Number({ description: 'succeeded / runs, from 0 to 1.' })),
    latency_ms: Type.Object({ p50: Nullable(Type.Number()), p95: Nullable(Type.Number()) }),
    tokens: Type.Object({ input: Type.Integer(), output: Type.Integer() }),
    cost_usd: Nullable(
      Type.Number({ description: 'null for subagents: Claude Code reports cost per turn.' }),
    ),
  })

const AgentStatsSchema = Type.Object(
  {
    since: Nullable(Type.Integer()),
    building: Type.Boolean({
      description:
        'true while the figures are still being built from the events of an older database (after an upgrade): they are partial until then.',
    }),
    main: Type.Array(
      figureSchema("The session's main agent; null: Claude Code's default.", 'Finished turns.'),
    ),
    subagents: Type.Array(
      figureSchema(
        'The subagent type a `Task` (`Agent`) call ran.',
        'Finished runs; tokens are those of its responses.',
      ),
    ),
  },
  { $id: 'AgentStats', description: 'Figures per main agent and per subagent type, busiest first.' },
)

export const agentStatsRoutes: FastifyPluginAsync<{ gateway: GatewayContext }> = async (app, { gateway }) => {
  app.addSchema(AgentStatsSchema)
  app.get<{ Querystring: Static<typeof StatsQuery> }>(
    '/agent-stats',
    {
      schema: {
        operationId: 'getAgentStats',
        tags: ['agents'],
        summary: 'Figures per agent',
        description:
          "Each main agent's finished turns (the agent of their session when they ran) and each subagent " +
          "type's finished runs: success rate, latency p50/p95, tokens and cost.",
        querystring: StatsQuery,
        response: {
          200: json('The figures.', { $ref: 'AgentStats#' }),
          ...QUERY_RESPONSES,
        },
      },
    },
    async (request): Promise<Static<typeof AgentStatsSchema>> => {
      const { since } = request.query
      const { main, subagents } = await gateway.store.agentFigures(since)
      return {
        since: since ?? null,
        building: gateway.store.readModelsBuilding(),
        main: main.map(figureView),
        subagents: subagents.map(figureView),
      }
    },
  )
}

function figureView(figure: AgentFigure) {
  return {
    agent: figure.agent,
    runs: figure.runs,
    succeeded: figure.succeeded,
    success_rate: figure.runs > 0 ? figure.succeeded / figure.runs : null,
    latency_ms: { p50: figure.p50Ms, p95: figure.p95Ms },
    tokens: { input: figure.inputTokens, output: figure.outputTokens },
    cost_usd: figure.costUsd,
  }
}
