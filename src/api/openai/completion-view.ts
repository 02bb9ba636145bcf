/**
 * The non-streamed answer of POST /v1/chat/completions: OpenAI's chat.completion object, the schema the
 * route declares (and Fastify serialises with) beside the mapper that fills it from an Answer. The chat
 * route's plugin registers it.
 */
import { type Static, Type } from '@sinclair/typebox'
import { Enum, Nullable } from '../responses.js'
import type { Answer, FinishReason } from './answer.js'

const FINISH_REASONS: readonly FinishReason[] = ['stop', 'length', 'tool_calls', 'content_filter']

const ToolCall = Type.Object({
  id: Type.String(),
  type: Type.Literal('function'),
  function: Type.Object({
    name: Type.String(),
    arguments: Type.String({ description: 'The arguments as JSON text.' }),
  }),
})

const Message = Type.Object({
  role: Type.Literal('assistant'),
  content: Nullable(Type.String({ description: 'null: the answer is only tool calls.' })),
  refusal: Type.Null(),
  reasoning_content: Type.Optional(Type.String({ description: "Claude's thinking, when there was some." })),
  thinking_blocks: Type.Optional(
    Type.Array(
      Type.Object({ type: Type.Literal('thinking'), thinking: Type.String(), signature: Type.String() }),
      { description: 'The thinking with its signatures, for a client to send back in the history.' },
    ),
  ),
  tool_calls: Type.Optional(Type.Array(ToolCall, { description: 'Calls of the client functions.' })),
})

const Usage = Type.Object(
  {
    prompt_tokens: Type.Integer(),
    completion_tokens: Type.Integer(),
    total_tokens: Type.Integer(),
    prompt_tokens_details: Type.Object({ cached_tokens: Type.Integer(), audio_tokens: Type.Integer() }),
    completion_tokens_details: Type.Object({
      reasoning_tokens: Type.Integer(),
      audio_tokens: Type.Integer(),
      accepted_prediction_tokens: Type.Integer(),
      rejected_prediction_tokens: Type.Integer(),
    }),
  },
  { description: 'Cache reads and writes count as prompt tokens.' },
)

export const ChatCompletionSchema = Type.Object(
  {
    id: Type.String(),
    object: Type.Literal('chat.completion'),
    created: Type.Integer(),
    model: Type.String({ description: 'The model id the request named.' }),
    system_fingerprint: Type.Null(),
    choices: Type.Array(
      Type.Object({
        index: Type.Integer(),
        message: Message,
        logprobs: Type.Null(),
        finish_reason: Enum(FINISH_REASONS),
      }),
    ),
    usage: Nullable(Usage, { description: 'null: no usage is known for the answer.' }),
  },
  { $id: 'ChatCompletion', description: "OpenAI's chat.completion object; see docs/openai.md." },
)

/** The request's answer as a chat.completion: `id`, `created` and `model` are the exchange's. */
export function completionView(
  exchange: { id: string; created: number; model: string },
  answer: Answer,
): Static<typeof ChatCompletionSchema> {
  const message: Static<typeof Message> = {
    role: 'assistant',
    content: answer.content || (answer.toolCalls.length ? null : ''),
    refusal: null,
  }
  if (answer.reasoning) message.reasoning_content = answer.reasoning
  if (answer.thinkingBlocks.length) message.thinking_blocks = answer.thinkingBlocks
  if (answer.toolCalls.length) message.tool_calls = answer.toolCalls
  return {
    id: exchange.id,
    object: 'chat.completion',
    created: exchange.created,
    model: exchange.model,
    system_fingerprint: null,
    choices: [{ index: 0, message, logprobs: null, finish_reason: answer.finishReason ?? 'stop' }],
    usage: answer.usage,
  }
}
