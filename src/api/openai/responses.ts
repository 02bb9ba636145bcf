/**
 * The /v1 API's error responses as its routes declare them: OpenAI's error shape (registered once by the
 * /v1 plugin as `OpenAIError`), with Retry-After where OpenAI clients look for it.
 */
import { Type } from '@sinclair/typebox'
import { errorResponses, Nullable } from '../responses.js'

export const OpenAIErrorSchema = Type.Object(
  {
    error: Type.Object({
      message: Type.String(),
      type: Type.String({ description: '`invalid_request_error`, `rate_limit_error`, `server_error`, ...' }),
      param: Nullable(Type.String()),
      code: Nullable(Type.String()),
    }),
  },
  { $id: 'OpenAIError', description: "OpenAI's error shape, used by every /v1 route." },
)

export const openaiErrors = (statuses: Record<number, string>) =>
  errorResponses('OpenAIError', statuses, (status) => [409, 429, 503, 507].includes(status))
