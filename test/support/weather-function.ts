/** A client function for the Chat Completions tests that only need one to be there (metrics, tool calls, replicas). */

/**
 * `get_weather(city)`, as an OpenAI client declares it in `tools`; the model sees it as
 * `mcp__client__get_weather`.
 */
export const WEATHER_FUNCTION = {
  type: 'function',
  function: {
    name: 'get_weather',
    parameters: { type: 'object', properties: { city: { type: 'string' } } },
  },
}
