/**
 * The Chat Completions request as the gateway validates it at the edge. Unknown top-level fields are
 * accepted and ignored (OpenAI clients and LiteLLM add their own); every known field is checked.
 */
import { type Static, type TSchema, Type } from '@sinclair/typebox'
import { MAX_INTEGER } from '../validation.js'

const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()])
/** An integer from `minimum` up to an explicit ceiling: JSON's 1e300 is an integer too. */
const Count = (minimum: number) => Type.Integer({ minimum, maximum: MAX_INTEGER })

/**
 * One message, checked here only for its shape; what each role may carry (content parts, tool calls) is
 * checked where it is translated, so an error names the exact parameter (`messages[2].content[0].image_url`).
 */
export const ChatMessage = Type.Object(
  {
    role: Type.Union(
      ['system', 'developer', 'user', 'assistant', 'tool', 'function'].map((r) => Type.Literal(r)),
    ),
    content: Type.Optional(Type.Unknown()),
    name: Type.Optional(Type.String()),
    tool_calls: Type.Optional(
      Type.Array(
        Type.Object({
          id: Type.String({ minLength: 1 }),
          type: Type.Optional(Type.Literal('function')),
          function: Type.Object({ name: Type.String({ minLength: 1 }), arguments: Type.String() }),
        }),
      ),
    ),
    tool_call_id: Type.Optional(Type.String({ minLength: 1 })),
    reasoning_content: Type.Optional(Type.Union([Type.String(), Type.Null()])),
    thinking_blocks: Type.Optional(
      Type.Union([
        Type.Array(Type.Object({ type: Type.String() }, { additionalProperties: true })),
        Type.Null(),
      ]),
    ),
  },
  { additionalProperties: true },
)

const FunctionTool = Type.Object({
  type: Type.Literal('function'),
  function: Type.Object({
    name: Type.String({ pattern: '^[a-zA-Z0-9_-]{1,64}$' }),
    description: Type.Optional(Type.String()),
    parameters: Type.Optional(Type.Object({}, { additionalProperties: true })),
    strict: Type.Optional(Type.Union([Type.Boolean(), Type.Null()])),
  }),
})

const ToolChoice = Type.Union([
  Type.Literal('none'),
  Type.Literal('auto'),
  Type.Literal('required'),
  Type.Object({ type: Type.Literal('function'), function: Type.Object({ name: Type.String() }) }),
])

const ResponseFormat = Type.Union([
  Type.Object({ type: Type.Literal('text') }),
  Type.Object({ type: Type.Literal('json_object') }),
  Type.Object({
    type: Type.Literal('json_schema'),
    json_schema: Type.Object({
      name: Type.String(),
      description: Type.Optional(Type.String()),
      schema: Type.Optional(Type.Object({}, { additionalProperties: true })),
      strict: Type.Optional(Type.Union([Type.Boolean(), Type.Null()])),
    }),
  }),
])

const Thinking = Type.Union([
  Type.Object({ type: Type.Literal('enabled'), budget_tokens: Count(1024) }),
  Type.Object({ type: Type.Literal('disabled') }),
  Type.Object({ type: Type.Literal('adaptive') }),
])

/** The gateway's own keys: sent top-level by OpenAI SDKs' `extra_body`, or nested as `extra_body`. */
export const GatewayOptions = Type.Object({
  workspace: Type.Optional(Type.String({ minLength: 1 })),
  permission_mode: Type.Optional(Type.String()),
  allowed_tools: Type.Optional(Type.Array(Type.String({ minLength: 1 }))),
  disallowed_tools: Type.Optional(Type.Array(Type.String({ minLength: 1 }))),
  max_turns: Type.Optional(Count(1)),
  agent: Type.Optional(Type.String({ minLength: 1 })),
  append_system_prompt: Type.Optional(Type.String()),
  session_id: Type.Optional(Type.String({ minLength: 1 })),
  thinking: Type.Optional(Thinking),
  /** Approved MCP servers (`users.mcpServers`) the session starts with; the user's policy decides which. */
  mcp_servers: Type.Optional(Type.Array(Type.String({ minLength: 1 }))),
})

export const ChatCompletionRequest = Type.Intersect([
  Type.Object({
    model: Type.String({ minLength: 1 }),
    messages: Type.Array(ChatMessage, { minItems: 1 }),
    stream: Type.Optional(Type.Union([Type.Boolean(), Type.Null()])),
    stream_options: Type.Optional(
      Type.Union([Type.Object({ include_usage: Type.Optional(Type.Boolean()) }), Type.Null()]),
    ),
    max_tokens: Type.Optional(Nullable(Count(1))),
    max_completion_tokens: Type.Optional(Nullable(Count(1))),
    n: Type.Optional(Nullable(Count(1))),
    logprobs: Type.Optional(Type.Union([Type.Boolean(), Type.Null()])),
    top_logprobs: Type.Optional(Nullable(Count(0))),
    stop: Type.Optional(
      Type.Union([Type.String(), Type.Array(Type.String({ minLength: 1 }), { maxItems: 4 }), Type.Null()]),
    ),
    temperature: Type.Optional(Nullable(Type.Number({ minimum: 0, maximum: 2 }))),
    top_p: Type.Optional(Nullable(Type.Number({ minimum: 0, maximum: 1 }))),
    frequency_penalty: Type.Optional(Nullable(Type.Number({ minimum: -2, maximum: 2 }))),
    presence_penalty: Type.Optional(Nullable(Type.Number({ minimum: -2, maximum: 2 }))),
    seed: Type.Optional(Nullable(Type.Integer({ minimum: -MAX_INTEGER, maximum: MAX_INTEGER }))),
    user: Type.Optional(Type.String()),
    metadata: Type.Optional(Type.Union([Type.Record(Type.String(), Type.String()), Type.Null()])),
    tools: Type.Optional(Type.Array(FunctionTool)),
    tool_choice: Type.Optional(ToolChoice),
    parallel_tool_calls: Type.Optional(Type.Boolean()),
    response_format: Type.Optional(ResponseFormat),
    reasoning_effort: Type.Optional(
      Type.Union(['none', 'minimal', 'low', 'medium', 'high', 'xhigh', 'max'].map((e) => Type.Literal(e))),
    ),
    extra_body: Type.Optional(GatewayOptions),
  }),
  GatewayOptions,
])

export type ChatCompletionRequest = Static<typeof ChatCompletionRequest>
export type ChatMessage = Static<typeof ChatMessage>
export type GatewayOptions = Static<typeof GatewayOptions>
export type FunctionTool = Static<typeof FunctionTool>
