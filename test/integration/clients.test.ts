/**
 * Real OpenAI-compatible clients against the gateway, the real CLI and the scripted model: LangChain.js
 * `ChatOpenAI` and the Vercel AI SDK's `@ai-sdk/openai-compatible` provider. What each client reads from our
 * answers (content, usage, finish reason, errors, streamed deltas, tool calls) and what Claude then receives.
 */
import assert from 'node:assert/strict'
import { before, describe, test } from 'node:test'
import { createOpenAICompatible } from '@ai-sdk/openai-compatible'
import { AIMessage, type AIMessageChunk, HumanMessage, SystemMessage } from '@langchain/core/messages'
import { tool as langchainTool } from '@langchain/core/tools'
import { ChatOpenAI } from '@langchain/openai'
import {
  APICallError,
  tool as aiTool,
  generateText,
  type ModelMessage,
  Output,
  stepCountIs,
  streamText,
} from 'ai'
import { z } from 'zod'
import { withGateway } from '../support/harness.js'
import {
  type ContentBlock,
  conversationTexts,
  type MessagesRequestBody,
  type ReplyFactory,
  text,
} from '../support/scripted-anthropic.js'

const CACHED_USAGE = {
  input_tokens: 20,
  output_tokens: 5,
  cache_read_input_tokens: 100,
  cache_creation_input_tokens: 30,
}
/** CACHED_USAGE as an OpenAI client counts it: cache reads and writes are prompt tokens. */
const PROMPT_TOKENS = 150
const COMPLETION_TOKENS = 5

/** The tool_result blocks of the last message Claude received, if it is the user's. */
function toolResults(body: MessagesRequestBody): ContentBlock[] {
  const last = body.messages?.at(-1)
  if (last?.role !== 'user' || typeof last.content === 'string') return []
  return last.content.filter((block) => block.type === 'tool_result')
}

function resultText(block: ContentBlock): string {
  const content = block.content as string | ContentBlock[] | undefined
  if (typeof content === 'string') return content
  return (content ?? []).map((part) => part.text ?? '').join('')
}

/**
 * The model side of a client function round trip: Claude calls the offered tool that stands for the
 * client's function `name` (whatever prefix the gateway gives it) with `input`; once the function's
 * result comes back as a tool_result, Claude answers with `answer(result)`.
 */
function callsClientFunction(
  name: string,
  input: Record<string, unknown>,
  answer: (result: string) => string,
): ReplyFactory {
  return (request) => {
    const [result] = toolResults(request.body)
    if (result) return text(answer(resultText(result)), { chunkSize: 4 })
    const offered = (request.body.tools ?? []).map((t) => t.name)
    const tool = offered.find((n) => n === name || n.endsWith(`__${name}`))
    if (!tool) return text(`[the client function '${name}' was not offered; tools: ${offered.join(', ')}]`)
    return { blocks: [{ type: 'tool_use', name: tool, input }] }
  }
}

/** Every tool_use Claude sent and every tool_result it received, in order, across the whole conversation. */
function toolTraffic(
  body: MessagesRequestBody,
): { type: string; name?: string; id?: string; text?: string }[] {
  const out: { type: string; name?: string; id?: string; text?: string }[] = []
  for (const message of body.messages ?? []) {
    if (typeof message.content === 'string') continue
    for (const block of message.content) {
      if (block.type === 'tool_use')
        out.push({ type: 'tool_use', name: String(block.name), id: String(block.id) })
      if (block.type === 'tool_result')
        out.push({ type: 'tool_result', id: String(block.tool_use_id), text: resultText(block) })
    }
  }
  return out
}

/** Claude Code's structured output: the model answers by calling the tool it offers for it. */
function answersWithStructuredOutput(input: Record<string, unknown>): ReplyFactory {
  return (request) => {
    const tool = (request.body.tools ?? []).map((t) => t.name).find((n) => /structured/i.test(n))
    return tool ? { blocks: [{ type: 'tool_use', name: tool, input }] } : text('[no structured output tool]')
  }
}

describe('LangChain.js ChatOpenAI', () => {
  const g = withGateway({ pool: { warmSpares: 1 } })
  let model: ChatOpenAI
  before(() => {
    model = new ChatOpenAI({
      model: 'claude-code',
      apiKey: 'unused',
      maxRetries: 0,
      configuration: { baseURL: `${g.url}/v1` },
    })
  })

  test('invoke: content, finish reason and token usage (cache tokens counted as input)', async () => {
    g.home.model.script(text('Hello from Claude Code.', { usage: CACHED_USAGE }))
    const message = await model.invoke('Say hello.')
    assert.equal(message.content, 'Hello from Claude Code.')
    assert.equal(message.response_metadata.finish_reason, 'stop')
    assert.equal(message.response_metadata.model_name, 'claude-code')
    assert.deepEqual(message.response_metadata.tokenUsage, {
      promptTokens: PROMPT_TOKENS,
      completionTokens: COMPLETION_TOKENS,
      totalTokens: PROMPT_TOKENS + COMPLETION_TOKENS,
    })
    const usage = message.usage_metadata
    assert.equal(usage?.input_tokens, PROMPT_TOKENS)
    assert.equal(usage?.output_tokens, COMPLETION_TOKENS)
    assert.equal(usage?.total_tokens, PROMPT_TOKENS + COMPLETION_TOKENS)
    assert.equal(usage?.input_token_details?.cache_read, 100)
    assert.equal(usage?.output_token_details?.reasoning, 0)
    assert.match(message.id ?? '', /^chatcmpl-/)
  })

  test('stream: several chunks that add up to the answer, then usage', async () => {
    g.home.model.script(text('Streaming through LangChain works.', { chunkSize: 5, usage: CACHED_USAGE }))
    const chunks: AIMessageChunk[] = []
    for await (const chunk of await model.stream('Stream something.')) chunks.push(chunk)
    const texts = chunks.map((c) => (typeof c.content === 'string' ? c.content : '')).filter(Boolean)
    assert.ok(texts.length >= 5, `one chunk per model delta, got ${texts.length}`)
    assert.equal(texts.join(''), 'Streaming through LangChain works.')
    const whole = chunks.reduce((a, b) => a.concat(b))
    assert.equal(whole.content, 'Streaming through LangChain works.')
    assert.equal(whole.response_metadata.finish_reason, 'stop')
    assert.equal(whole.usage_metadata?.input_tokens, PROMPT_TOKENS)
    assert.equal(whole.usage_metadata?.output_tokens, COMPLETION_TOKENS)
    assert.equal(whole.usage_metadata?.total_tokens, PROMPT_TOKENS + COMPLETION_TOKENS)
    assert.equal(whole.usage_metadata?.input_token_details?.cache_read, 100)
  })

  test('a System/Human/AI history reaches Claude as real turns with the system prompt', async () => {
    g.home.model.script(text('You picked blue.'))
    const message = await model.invoke([
      new SystemMessage('You are a terse colour picker.'),
      new HumanMessage('Pick a colour.'),
      new AIMessage('Blue.'),
      new HumanMessage('Which colour did you pick?'),
    ])
    assert.equal(message.content, 'You picked blue.')
    const body = g.home.model.turns.at(-1)!.body
    assert.deepEqual(conversationTexts(body), [
      { role: 'user', text: 'Pick a colour.' },
      { role: 'assistant', text: 'Blue.' },
      { role: 'user', text: 'Which colour did you pick?' },
    ])
    assert.ok(JSON.stringify(body.system).includes('You are a terse colour picker.'))
  })

  test('a follow-up with the returned AIMessage continues the live session', async () => {
    g.home.model.script(text('Nice to meet you, Ada.'), text('Your name is Ada.'))
    const history = [new SystemMessage('You are terse.'), new HumanMessage('My name is Ada.')]
    const first = await model.invoke(history)
    const sessions = (await g.gateway.context.engine.stats()).sessions
    const second = await model.invoke([...history, first, new HumanMessage('What is my name?')])
    assert.equal(second.content, 'Your name is Ada.')
    assert.equal((await g.gateway.context.engine.stats()).sessions, sessions, 'no new session')
    assert.deepEqual(conversationTexts(g.home.model.turns.at(-1)!.body), [
      { role: 'user', text: 'My name is Ada.' },
      { role: 'assistant', text: 'Nice to meet you, Ada.' },
      { role: 'user', text: 'What is my name?' },
    ])
  })

  test('withStructuredOutput: a zod schema (JSON Schema draft 2020-12) gives a parsed object', async () => {
    g.home.model.fallback = answersWithStructuredOutput({ answer: 4 })
    try {
      const structured = model.withStructuredOutput(z.object({ answer: z.number() }))
      assert.deepEqual(await structured.invoke('What is 2 + 2?'), { answer: 4 })
      const json = model.withStructuredOutput(z.object({ answer: z.number() }), { method: 'jsonMode' })
      assert.deepEqual(await json.invoke('What is 2 + 2? Answer in JSON.'), { answer: 4 })
    } finally {
      g.home.model.fallback = () => text('ok')
    }
  })

  test('bindTools: a tool call comes back, its ToolMessage continues the same turn', async () => {
    const calls: { city: string }[] = []
    const getWeather = langchainTool(
      async ({ city }: { city: string }) => {
        calls.push({ city })
        return `It is 21°C and sunny in ${city}.`
      },
      {
        name: 'get_weather',
        description: 'The current weather in a city.',
        schema: z.object({ city: z.string().describe('The city') }),
      },
    )
    g.home.model.fallback = callsClientFunction(
      'get_weather',
      { city: 'Paris' },
      (result) => `The weather service says: ${result}`,
    )
    try {
      const withTools = model.bindTools([getWeather])
      const question = new HumanMessage('What is the weather in Paris?')
      const first = await withTools.invoke([question])
      assert.equal(first.response_metadata.finish_reason, 'tool_calls', JSON.stringify(first.content))
      assert.equal(first.tool_calls?.length, 1)
      const [call] = first.tool_calls!
      assert.equal(call!.name, 'get_weather')
      assert.deepEqual(call!.args, { city: 'Paris' })
      assert.ok(call!.id)

      const toolMessage = await getWeather.invoke(call!)
      assert.deepEqual(calls, [{ city: 'Paris' }])
      const turnsBefore = g.home.model.turns.length
      const second = await withTools.invoke([question, first, toolMessage])
      assert.equal(second.content, 'The weather service says: It is 21°C and sunny in Paris.')
      assert.equal(second.response_metadata.finish_reason, 'stop')
      assert.equal(second.tool_calls?.length ?? 0, 0)

      assert.equal(g.home.model.turns.length, turnsBefore + 1, 'one model request answers the tool result')
      const body = g.home.model.turns.at(-1)!.body
      const traffic = toolTraffic(body)
      assert.equal(traffic.length, 2, JSON.stringify(traffic))
      assert.equal(traffic[0]!.type, 'tool_use')
      assert.match(traffic[0]!.name!, /get_weather$/)
      assert.deepEqual(traffic[1], {
        type: 'tool_result',
        id: traffic[0]!.id,
        text: 'It is 21°C and sunny in Paris.',
      })
      assert.deepEqual(
        conversationTexts(body).filter((t) => t.role === 'user'),
        [{ role: 'user', text: 'What is the weather in Paris?' }],
        'the question is not sent again',
      )
    } finally {
      g.home.model.fallback = () => text('ok')
    }
  })

  test('bindTools while streaming: tool call chunks assemble into the call', async () => {
    const lookup = langchainTool(async ({ id }: { id: number }) => `order ${id}: shipped`, {
      name: 'lookup_order',
      description: 'Look an order up.',
      schema: z.object({ id: z.number() }),
    })
    g.home.model.fallback = callsClientFunction('lookup_order', { id: 42 }, (result) => `Status: ${result}`)
    try {
      const withTools = model.bindTools([lookup])
      const question = new HumanMessage('Where is order 42?')
      let first: AIMessageChunk | undefined
      for await (const chunk of await withTools.stream([question]))
        first = first ? first.concat(chunk) : chunk
      assert.ok(first)
      assert.equal(first.response_metadata.finish_reason, 'tool_calls', JSON.stringify(first.content))
      assert.equal(first.tool_calls?.length, 1)
      assert.equal(first.tool_calls![0]!.name, 'lookup_order')
      assert.deepEqual(first.tool_calls![0]!.args, { id: 42 })

      const toolMessage = await lookup.invoke(first.tool_calls![0]!)
      let second = ''
      for await (const chunk of await withTools.stream([question, first, toolMessage]))
        second += typeof chunk.content === 'string' ? chunk.content : ''
      assert.equal(second, 'Status: order 42: shipped')
    } finally {
      g.home.model.fallback = () => text('ok')
    }
  })
})

describe('Vercel AI SDK with @ai-sdk/openai-compatible', () => {
  const g = withGateway({ pool: { warmSpares: 1 } })
  let provider: ReturnType<typeof createOpenAICompatible>
  before(() => {
    provider = createOpenAICompatible({
      name: 'claude-code-gateway',
      baseURL: `${g.url}/v1`,
      apiKey: 'unused',
      includeUsage: true,
      supportsStructuredOutputs: true,
    })
  })

  test('generateText: text, usage and finish reason', async () => {
    g.home.model.script(text('Generated by Claude Code.', { usage: CACHED_USAGE }))
    const result = await generateText({
      model: provider('claude-code'),
      prompt: 'Generate something.',
      maxRetries: 0,
    })
    assert.equal(result.text, 'Generated by Claude Code.')
    assert.equal(result.finishReason, 'stop')
    assert.equal(result.usage.inputTokens, PROMPT_TOKENS)
    assert.equal(result.usage.outputTokens, COMPLETION_TOKENS)
    assert.equal(result.usage.totalTokens, PROMPT_TOKENS + COMPLETION_TOKENS)
    assert.equal(result.usage.inputTokenDetails.cacheReadTokens, 100)
    assert.equal(result.usage.inputTokenDetails.noCacheTokens, PROMPT_TOKENS - 100)
    assert.equal(result.usage.outputTokenDetails.reasoningTokens, 0)
    assert.equal(result.response.modelId, 'claude-code')
    assert.ok(result.response.headers?.['x-session-id'])
  })

  test('streamText: text chunks, final text and usage', async () => {
    g.home.model.script(text('Streaming through the AI SDK works.', { chunkSize: 5, usage: CACHED_USAGE }))
    const result = streamText({
      model: provider('claude-code'),
      prompt: 'Stream something.',
      maxRetries: 0,
      onError: () => {},
    })
    const chunks: string[] = []
    for await (const piece of result.textStream) chunks.push(piece)
    assert.ok(chunks.length >= 5, `one chunk per model delta, got ${chunks.length}`)
    assert.equal(chunks.join(''), 'Streaming through the AI SDK works.')
    assert.equal(await result.text, 'Streaming through the AI SDK works.')
    assert.equal(await result.finishReason, 'stop')
    const usage = await result.usage
    assert.equal(usage.inputTokens, PROMPT_TOKENS)
    assert.equal(usage.outputTokens, COMPLETION_TOKENS)
    assert.equal(usage.totalTokens, PROMPT_TOKENS + COMPLETION_TOKENS)
    assert.equal(usage.inputTokenDetails.cacheReadTokens, 100)
  })

  test('a follow-up with response.messages continues the live session', async () => {
    g.home.model.script(text('Nice to meet you, Ada.'), text('Your name is Ada.'))
    const messages: ModelMessage[] = [{ role: 'user', content: 'My name is Ada.' }]
    const first = await generateText({ model: provider('claude-code'), system: 'You are terse.', messages })
    messages.push(...first.response.messages, { role: 'user', content: 'What is my name?' })
    const second = await generateText({ model: provider('claude-code'), system: 'You are terse.', messages })
    assert.equal(second.text, 'Your name is Ada.')
    assert.equal(second.response.headers?.['x-session-id'], first.response.headers?.['x-session-id'])
    assert.deepEqual(conversationTexts(g.home.model.turns.at(-1)!.body), [
      { role: 'user', text: 'My name is Ada.' },
      { role: 'assistant', text: 'Nice to meet you, Ada.' },
      { role: 'user', text: 'What is my name?' },
    ])
  })

  test('Output.object: the structured output is parsed against the zod schema', async () => {
    g.home.model.fallback = answersWithStructuredOutput({ answer: 4, unit: 'apples' })
    try {
      const result = await generateText({
        model: provider('claude-code'),
        output: Output.object({ schema: z.object({ answer: z.number(), unit: z.string() }) }),
        prompt: 'What is 2 apples + 2 apples?',
        maxRetries: 0,
      })
      assert.deepEqual(result.output, { answer: 4, unit: 'apples' })
      assert.equal(result.finishReason, 'stop')
    } finally {
      g.home.model.fallback = () => text('ok')
    }
  })

  test('an unknown model surfaces as a 404 APICallError', async () => {
    await assert.rejects(
      generateText({ model: provider('gpt-4o'), prompt: 'Hi', maxRetries: 0 }),
      (error: unknown) => {
        assert.ok(APICallError.isInstance(error), String(error))
        assert.equal(error.statusCode, 404)
        assert.equal(error.isRetryable, false)
        assert.match(error.message, /gpt-4o/)
        const body = JSON.parse(error.responseBody ?? '{}') as { error?: { code?: string; param?: string } }
        assert.equal(body.error?.code, 'model_not_found')
        assert.equal(body.error?.param, 'model')
        return true
      },
    )
  })

  test('tools: generateText runs the function locally and sends its result back to the same turn', async () => {
    const calls: { city: string }[] = []
    const tools = {
      get_weather: aiTool({
        description: 'The current weather in a city.',
        inputSchema: z.object({ city: z.string() }),
        execute: async ({ city }) => {
          calls.push({ city })
          return { city, temperature: 21, sky: 'sunny' }
        },
      }),
    }
    g.home.model.fallback = callsClientFunction(
      'get_weather',
      { city: 'Paris' },
      (result) => `Weather: ${result}`,
    )
    try {
      const turnsBefore = g.home.model.turns.length
      const result = await generateText({
        model: provider('claude-code'),
        tools,
        stopWhen: stepCountIs(4),
        prompt: 'What is the weather in Paris?',
        maxRetries: 0,
      })
      assert.deepEqual(calls, [{ city: 'Paris' }], `the SDK ran the function; text: ${result.text}`)
      assert.equal(result.steps.length, 2)
      const [first, second] = result.steps
      assert.equal(first!.finishReason, 'tool-calls')
      assert.equal(first!.toolCalls.length, 1)
      assert.equal(first!.toolCalls[0]!.toolName, 'get_weather')
      assert.deepEqual(first!.toolCalls[0]!.input, { city: 'Paris' })
      assert.equal(second!.finishReason, 'stop')
      assert.equal(result.finishReason, 'stop')
      assert.equal(result.text, 'Weather: {"city":"Paris","temperature":21,"sky":"sunny"}')
      assert.equal(
        second!.response.headers?.['x-session-id'],
        first!.response.headers?.['x-session-id'],
        'the tool result continued the same session',
      )
      assert.equal(g.home.model.turns.length, turnsBefore + 2, 'one model request per step')
      const traffic = toolTraffic(g.home.model.turns.at(-1)!.body)
      assert.equal(traffic.length, 2, JSON.stringify(traffic))
      assert.equal(traffic[1]!.id, traffic[0]!.id)
      assert.deepEqual(JSON.parse(traffic[1]!.text!), { city: 'Paris', temperature: 21, sky: 'sunny' })
      assert.ok(result.totalUsage.outputTokens! >= 2 * 7, 'usage of both steps')
    } finally {
      g.home.model.fallback = () => text('ok')
    }
  })

  test('tools: streamText streams the tool call, runs it and streams the answer', async () => {
    const tools = {
      add: aiTool({
        description: 'Add two numbers.',
        inputSchema: z.object({ a: z.number(), b: z.number() }),
        execute: async ({ a, b }) => ({ sum: a + b }),
      }),
    }
    g.home.model.fallback = callsClientFunction('add', { a: 2, b: 3 }, (result) => `The sum is ${result}.`)
    try {
      const result = streamText({
        model: provider('claude-code'),
        tools,
        stopWhen: stepCountIs(4),
        prompt: 'What is 2 + 3?',
        maxRetries: 0,
        onError: () => {},
      })
      const kinds: string[] = []
      for await (const part of result.fullStream) {
        if (part.type === 'error') throw part.error
        kinds.push(part.type)
      }
      const steps = await result.steps
      assert.equal(steps.length, 2, `parts: ${kinds.join(' ')}`)
      assert.equal(steps[0]!.toolCalls[0]!.toolName, 'add')
      assert.deepEqual(steps[0]!.toolCalls[0]!.input, { a: 2, b: 3 })
      assert.deepEqual(steps[0]!.toolResults[0]!.output, { sum: 5 })
      assert.ok(kinds.includes('tool-input-delta'), 'arguments streamed as deltas')
      assert.ok(kinds.includes('tool-result'))
      assert.equal(await result.text, 'The sum is {"sum":5}.')
      assert.equal(await result.finishReason, 'stop')
    } finally {
      g.home.model.fallback = () => text('ok')
    }
  })
})
