import type { GatewayEvent } from './types.js'

/**
 * Each published event's JSON, made once for the store and every subscriber: the bus hands them all the
 * same event object, and serialising it again for each one is most of what a wide fan-out costs.
 */
const texts = new WeakMap<GatewayEvent, string>()

export function eventJson(event: GatewayEvent): string {
  let text = texts.get(event)
  if (text === undefined) {
    text = JSON.stringify(event)
    texts.set(event, text)
  }
  return text
}
