/** What the OpenAI tests expect of an answer's usage (unit/openai-request, integration/openai). */

/**
 * The `usage` of a Chat Completions answer: Claude's tokens in OpenAI's fields; the details Claude has no
 * figure for (audio, reasoning, predictions) are 0.
 */
export function chatUsage(tokens: { prompt: number; completion: number; total: number; cached: number }) {
  return {
    prompt_tokens: tokens.prompt,
    completion_tokens: tokens.completion,
    total_tokens: tokens.total,
    prompt_tokens_details: { cached_tokens: tokens.cached, audio_tokens: 0 },
    completion_tokens_details: {
      reasoning_tokens: 0,
      audio_tokens: 0,
      accepted_prediction_tokens: 0,
      rejected_prediction_tokens: 0,
    },
  }
}
