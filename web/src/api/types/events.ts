/**
 * The events of src/events/types.ts as the streams carry them (camelCase): the server's own types, imported
 * type-only so the build erases them, plus the position the tab's multiplexed stream gives each event.
 */
import type { EventType, GatewayEvent } from '../../../../src/events/types.js'

export type {
  ContentBlock,
  EventBody,
  EventType,
  GatewayEvent,
  SettingChange,
  TokenUsage,
} from '../../../../src/events/types.js'

/** An event from the tab's multiplexed stream, with its position there (the frame's `id:`). */
export type LiveEvent = GatewayEvent & { pos: number }

export type EventOf<T extends EventType> = Extract<LiveEvent, { type: T }>
