/**
 * Slash commands (src/api/native/command-views.ts) and what running one answers, mirrored by hand.
 */

/** `Command` of src/api/native/command-views.ts: a slash command. */
export interface Command {
  name: string
  description: string
  /** What the arguments look like; empty when it takes none. */
  argument_hint: string
  aliases: string[]
  source: string
  path: string | null
  loaded: boolean
  overridden: boolean
}

/** `CommandList`: `GET /api/sessions/{id}/commands`. */
export interface CommandList {
  workspace: string | null
  commands: Command[]
  builtins_reported: boolean
}

/** What running a command answers: the gateway's own answer, or the turn Claude Code ran for it. */
export interface CommandResult {
  command: string
  source: string | null
  output: string
  /** A command Claude Code ran: how its turn ended. */
  status?: 'success' | 'error' | 'interrupted'
  error?: { code: string; message: string }
}
