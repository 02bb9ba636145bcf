/**
 * The OpenAPI 3 description of the gateway's HTTP API, served at `GET /api/openapi.json`.
 *
 * Every route declares its own schema: the request parts Fastify validates, its `operationId`, tags and
 * summary, and its responses, which Fastify also serialises with (src/api/responses.ts has the building
 * blocks; a view's schema sits beside the mapper that fills it). @fastify/swagger collects them as the
 * routes are registered, so the document cannot drift from what the routes validate and answer. This file
 * adds only what no route can say: the tags, the security schemes, and the request parts a handler checks
 * itself (`config.docs`). test/integration/openapi.test.ts checks real answers against the document; the
 * prose reference is docs/api.md.
 */
import swagger from '@fastify/swagger'
import { Type } from '@sinclair/typebox'
import type { FastifyInstance, FastifyPluginAsync, FastifySchema, RouteOptions } from 'fastify'
import type { GatewayContext } from '../gateway.js'
import { VERSION } from '../version.js'
import { JSON_TYPE } from './media-types.js'
import { NATIVE_COMMON, nativeErrors } from './native/responses.js'
import { json } from './responses.js'

const TAGS = [
  { name: 'sessions', description: 'Sessions and their turns, events and context (native API, /api).' },
  {
    name: 'lifecycle',
    description: 'Resume, pause, fork and import sessions; the conversations Claude Code keeps for a folder.',
  },
  {
    name: 'commands',
    description: "Slash commands: Claude Code's own, command and skill files, and those the gateway runs.",
  },
  {
    name: 'tool-calls',
    description: "Tool calls (Claude's, its subagents', direct ones), a session's or every session's.",
  },
  { name: 'permissions', description: 'What Claude may do with its tools, and the answers to what it asks.' },
  { name: 'tools', description: "The gateway's direct tools, run in a session's workspace (native API)." },
  { name: 'files', description: "A session's workspace as files: upload, list, download." },
  { name: 'project', description: "Claude Code's /init, and moving a session to another workspace." },
  { name: 'agents', description: "Claude Code's agent files, and a session's main agent." },
  {
    name: 'users',
    description:
      'Users, their keys, quotas and usage (docs/users.md): admins manage; everyone reads their own.',
  },
  { name: 'audit', description: 'Who did what and when: the audit trail, filtered and exported.' },
  { name: 'openai', description: 'The OpenAI-compatible API (/v1); reference: docs/openai.md.' },
  { name: 'health', description: "The gateway's health, and this description of its API." },
]

const SECURITY_SCHEMES = {
  bearerAuth: {
    type: 'http',
    scheme: 'bearer',
    description:
      "A user's key, or one of server.apiKeys, as `Authorization: Bearer KEY`. Not needed when no keys are configured.",
  },
  apiKeyHeader: {
    type: 'apiKey',
    in: 'header',
    name: 'x-api-key',
    description: 'The same key in the `x-api-key` header instead.',
  },
}

/** Who may call: one of the keys when keys are configured; anyone (the empty requirement) when not. */
export function securityFor(keysConfigured: boolean): Record<string, string[]>[] {
  const keyed: Record<string, string[]>[] = [{ bearerAuth: [] }, { apiKeyHeader: [] }]
  return keysConfigured ? keyed : [...keyed, {}]
}

/** The document's view of one route: its own schema, un-hidden, plus what its handler checks itself. */
function describeRoute(schema: FastifySchema | undefined, url: string, route: RouteOptions): FastifySchema {
  // Nothing is hidden: @fastify/websocket marks its routes `hide`, yet they are part of the API.
  const base = { ...(schema ?? {}), hide: false } as FastifySchema
  const docs = route.config?.docs
  if (!docs) return base
  const method = Array.isArray(route.method) ? route.method[0] : route.method
  if (docs.bodyOptional) optionalBodies.add(`${method} ${url}`)
  return {
    ...base,
    ...(docs.body && !base.body ? { body: docs.body } : {}),
    ...(docs.params ? { params: docs.params } : {}),
    ...(docs.headers && !base.headers ? { headers: docs.headers } : {}),
  }
}

/**
 * What a route's schema cannot say, for the document only (Fastify validates nothing here): a request the
 * handler reads and checks itself, such as a multipart body or a header.
 */
export interface RouteDocs {
  body?: object
  params?: object
  headers?: object
  /** The route takes a missing body as `{}` (@fastify/swagger marks every request body required). */
  bodyOptional?: true
}

declare module 'fastify' {
  interface FastifyContextConfig {
    docs?: RouteDocs
  }
}

/** `METHOD url` of the routes whose body is optional (`docs.bodyOptional`), as the document was built. */
const optionalBodies = new Set<string>()

/** The document with the request bodies of `bodyOptional` routes optional, as the routes take them. */
function withOptionalBodies<T extends { paths?: object }>(document: T): T {
  const paths = document.paths as
    | Record<string, Record<string, { requestBody?: { required?: boolean } }>>
    | undefined
  for (const key of optionalBodies) {
    const [method = '', url = ''] = key.split(' ')
    const documented = paths?.[url.replace(/:(\w+)/g, '{$1}')]?.[method.toLowerCase()]
    if (documented?.requestBody) documented.requestBody.required = false
  }
  return document
}

/**
 * Registers @fastify/swagger on the root app. Call it before any route: it sees only the routes registered
 * after it.
 */
export async function registerOpenApi(app: FastifyInstance): Promise<void> {
  await app.register(swagger, {
    mode: 'dynamic',
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'Claude Code Gateway',
        version: VERSION,
        description:
          'Claude Code behind an API: the native session API under /api (docs/api.md) and an ' +
          'OpenAI-compatible provider under /v1 (docs/openai.md).',
        license: { name: 'MIT' },
      },
      tags: TAGS,
      components: { securitySchemes: SECURITY_SCHEMES } as never,
      // Replaced when served, by the live configuration's (see openapiRoutes).
      security: securityFor(true),
    },
    // Shared schemas (app.addSchema) appear in components.schemas under their $id.
    refResolver: {
      buildLocalReference: (json, _baseUri, _fragment, i) => (json.$id as string) ?? `def-${i}`,
    },
    transform: ({ schema, url, route }) => ({ schema: describeRoute(schema, url, route), url }),
    transformObject: (built) =>
      withOptionalBodies('openapiObject' in built ? built.openapiObject : built.swaggerObject),
  })
}

/**
 * `GET /openapi.json`, registered inside the /api plugin so that its key check applies. The document is
 * built once; its `security` follows the live configuration (keys can be added or removed by a reload).
 */
export const openapiRoutes: FastifyPluginAsync<{ gateway: GatewayContext }> = async (app, { gateway }) => {
  const rendered = new Map<boolean, string>()
  const schema = {
    operationId: 'getOpenApi',
    tags: ['health'],
    summary: 'This document',
    response: {
      200: json('The OpenAPI document.', Type.Object({}, { additionalProperties: true })),
      ...nativeErrors(NATIVE_COMMON),
    },
  }
  app.get('/openapi.json', { schema }, async (_request, reply) => {
    const keyed = gateway.config.server.apiKeys.length > 0
    let body = rendered.get(keyed)
    if (body === undefined) {
      body = JSON.stringify({ ...app.swagger(), security: securityFor(keyed) })
      rendered.set(keyed, body)
    }
    return reply.type(JSON_TYPE).send(body)
  })
}
