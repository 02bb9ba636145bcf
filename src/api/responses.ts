/**
 * Building blocks of the routes' response schemas. A route's `schema.response` is used twice: Fastify
 * serialises the answer with it (fast-json-stringify: only the declared properties go out, and a missing
 * required one fails the request), and @fastify/swagger documents the route from it. So a view is a
 * schema plus the mapper that fills it, side by side in the route's module.
 *
 * A schema several routes answer with is registered once with `app.addSchema` (its `$id` is its name in
 * the document's `components.schemas`) by the plugin that holds those routes, and referred to with `ref`.
 */
import { type TSchema, Type } from '@sinclair/typebox'

export const Nullable = <T extends TSchema>(schema: T, options: { description?: string } = {}) =>
  Type.Union([schema, Type.Null()], options)

export const Enum = <T extends string>(values: readonly T[], options: { description?: string } = {}) =>
  Type.Unsafe<T>({ type: 'string', enum: [...values], ...options })

/** One of `values` or null (null listed in the enum, as OpenAPI 3.0 wants for a nullable enum). */
export const NullableEnum = <T extends string>(
  values: readonly T[],
  options: { description?: string } = {},
) => Type.Unsafe<T | null>({ type: ['string', 'null'], enum: [...values, null], ...options })

/** A reference to a schema registered with `app.addSchema({ $id: id, ... })`. */
export const ref = <T = unknown>(id: string) => Type.Unsafe<T>({ $ref: `${id}#` })

/** A JSON response: what it means, and its body's schema. */
export const json = (description: string, schema: TSchema | { $ref: string }) => ({
  description,
  content: { 'application/json': { schema } },
})

/** A response that is not JSON (a stream, a file): documented, never serialised by Fastify. */
export const raw = (mediaType: string, description: string, schema: object = { type: 'string' }) => ({
  description,
  content: { [mediaType]: { schema } },
})

export const RETRY_AFTER = {
  'retry-after': { type: 'integer', description: 'Seconds to wait before trying again.' },
}

/**
 * The error responses of a route: each status with what it means, in the error shape `errorSchemaId`,
 * with a Retry-After header where `retryable` says the status carries one.
 */
export function errorResponses(
  errorSchemaId: string,
  statuses: Record<number, string>,
  retryable: (status: number, description: string) => boolean,
) {
  const out: Record<string, object> = {}
  for (const [status, description] of Object.entries(statuses)) {
    out[status] = {
      ...json(description, ref(errorSchemaId)),
      ...(retryable(Number(status), description) ? { headers: RETRY_AFTER } : {}),
    }
  }
  return out
}
