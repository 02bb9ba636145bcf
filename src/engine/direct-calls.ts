/**
 * Direct calls: work the gateway does in a session's workspace on the API client's behalf (its direct tools,
 * file uploads), recorded in the session's events like Claude's own tool calls.
 */
import { randomUUID } from 'node:crypto'
import { type EventBus, EventRejectedError } from '../events/bus.js'
import type { EventBody } from '../events/types.js'
import type { SessionRecord } from '../store/types.js'
import {
  isToolName,
  type RunToolOptions,
  runTool,
  type ToolLimits,
  validateToolInput,
} from '../tools/index.js'
import { GatewayError } from './errors.js'
import type { FileChange } from './types.js'

/** A direct call's work in the session's workspace, and the file changes read from its result. */
export interface DirectCall<R> {
  work: (workspace: string) => Promise<R>
  changes: (result: R) => FileChange[]
}

/**
 * A direct call as it is recorded: its name and input (those of its `tool.call` event), then its work and the
 * changes read from its result.
 */
export type DirectCallArgs<R> = [
  name: string,
  input: unknown,
  work: DirectCall<R>['work'],
  changes: DirectCall<R>['changes'],
]

/**
 * One of the gateway's direct tools as a direct call, run with the limits `limits` returns then. Its input
 * is checked now: a call refused for its input is not a call, refused before anything is recorded.
 */
export function directToolCall(
  name: string,
  input: unknown,
  limits: () => Partial<ToolLimits>,
  options: RunToolOptions,
): DirectCall<unknown> {
  if (isToolName(name)) validateToolInput(name, input)
  return {
    work: (workspace) => runTool(name, workspace, input, limits(), options),
    changes: (result) => fileChangesOf(name, result),
  }
}

/**
 * Do `work` in the session's workspace: the call and its result go into the session's events, with a
 * `file.changed` for each change `changes` reads from the result; a failed call is recorded too and then
 * thrown.
 */
export async function recordDirectCall<R>(
  bus: EventBus,
  record: SessionRecord,
  ...[name, input, work, changes]: DirectCallArgs<R>
): Promise<R> {
  const turnId = `direct-${randomUUID()}`
  const toolUseId = `direct_${randomUUID()}`
  const publish = (body: EventBody) => bus.publish(record.id, body)
  clientInput(() =>
    publish({ type: 'tool.call', turnId, toolUseId, name, input, parentToolUseId: null, direct: true }),
  )
  const started = Date.now()
  const done = (isError: boolean, content: string, structured?: unknown) =>
    publish({
      type: 'tool.result',
      turnId,
      toolUseId,
      name,
      isError,
      content,
      structured,
      durationMs: Date.now() - started,
      parentToolUseId: null,
      direct: true,
    })
  let result: R
  try {
    result = await work(record.settings.workspace)
  } catch (error) {
    done(true, (error as Error).message)
    throw error
  }
  done(false, JSON.stringify(result), result)
  for (const change of changes(result))
    publish({ type: 'file.changed', turnId, toolUseId, tool: name, ...change })
  return result
}

/** Publishes an event made of the client's input: one that cannot be serialised is the client's error. */
export function clientInput<T>(publish: () => T): T {
  try {
    return publish()
  } catch (error) {
    if (error instanceof EventRejectedError) throw new GatewayError('invalid_request', error.message)
    throw error
  }
}

/** What a direct write or edit changed, for the `file.changed` event. */
export function fileChangesOf(tool: string, result: unknown): FileChange[] {
  if (tool !== 'write' && tool !== 'edit') return []
  const out = result as {
    type: 'create' | 'update'
    filePath: string
    originalFile: string | null
    updatedFile?: string
  }
  return [
    {
      path: out.filePath,
      kind: out.type === 'create' ? 'created' : 'modified',
      before: out.originalFile,
      ...(out.updatedFile !== undefined ? { after: out.updatedFile } : {}),
    },
  ]
}
