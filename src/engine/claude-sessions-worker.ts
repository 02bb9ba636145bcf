/** The thread of claude-sessions.ts: runs each job it is sent with the Agent SDK's helpers, posts the outcome. */
import { parentPort } from 'node:worker_threads'
import type { SessionMessage } from '@anthropic-ai/claude-agent-sdk'
import type { ClaudeSessionsJob, ClaudeSessionsReply, ForkOutcome } from './claude-sessions.js'

type Sdk = typeof import('@anthropic-ai/claude-agent-sdk')
type Fork = Extract<ClaudeSessionsJob['action'], { kind: 'fork' }>

const sdk: Promise<Sdk> = import('@anthropic-ai/claude-agent-sdk')

parentPort?.on('message', (job: ClaudeSessionsJob) => {
  run(job).then(
    (result) => parentPort?.postMessage({ id: job.id, ok: true, result } satisfies ClaudeSessionsReply),
    (error: unknown) =>
      parentPort?.postMessage({
        id: job.id,
        ok: false,
        message: error instanceof Error ? error.message : String(error),
      } satisfies ClaudeSessionsReply),
  )
})

async function run({ dir, action }: ClaudeSessionsJob): Promise<unknown> {
  const helpers = await sdk
  switch (action.kind) {
    case 'list':
      // Worktrees of the workspace's repository are other folders, maybe outside the allowed roots.
      return helpers.listSessions({
        dir,
        limit: action.limit,
        offset: action.offset,
        includeWorktrees: false,
      })
    case 'find':
      return (await helpers.getSessionInfo(action.sessionId, { dir })) ?? null
    case 'fork':
      return fork(helpers, dir, action)
  }
}

async function fork(helpers: Sdk, dir: string, { sessionId, upTo, title }: Fork): Promise<ForkOutcome> {
  if (!(await helpers.getSessionInfo(sessionId, { dir }))) return { missing: 'session' }
  let upToMessageId: string | undefined
  if (upTo !== undefined) {
    const messages = await helpers.getSessionMessages(sessionId, { dir })
    // The CLI stores an assistant message as one entry per content block, all with the API's message id.
    const entry = messages.findLast((message) => message.uuid === upTo || apiMessageId(message) === upTo)
    if (!entry) return { missing: 'message' }
    upToMessageId = entry.uuid
  }
  return { sessionId: (await helpers.forkSession(sessionId, { dir, upToMessageId, title })).sessionId }
}

function apiMessageId(message: SessionMessage): unknown {
  return typeof message.message === 'object' && message.message !== null
    ? (message.message as { id?: unknown }).id
    : undefined
}
