/**
 * How the slash command routes answer (commands.ts): a command as listed, a workspace's list, and what
 * running one gives back (the gateway's own answer, or the turn of a command Claude Code ran). The /commands
 * plugin registers these schemas.
 */
import { type Static, Type } from '@sinclair/typebox'
import { FILE_SOURCES } from '../../commands/files.js'
import type { CommandEntry } from '../../commands/index.js'
import { Enum, Nullable, NullableEnum, ref } from '../responses.js'
import { TurnResultSchema } from './turn-answer.js'

export const CommandSchema = Type.Object(
  {
    name: Type.String({ description: 'Without the slash; `folder:name` for a command file in a subfolder.' }),
    description: Type.String(),
    argument_hint: Type.String({ description: 'What the arguments look like; empty when it takes none.' }),
    aliases: Type.Array(Type.String(), { description: 'Other names that run it.' }),
    source: Enum([...FILE_SOURCES, 'gateway', 'builtin', 'plugin'], {
      description: 'Where it comes from, in order of precedence (docs/api.md).',
    }),
    path: Nullable(
      Type.String({ description: "The file that defines it; null for the gateway's and Claude Code's own." }),
    ),
    loaded: Type.Boolean({ description: 'It can run: Claude Code loads the scope of its file.' }),
    overridden: Type.Boolean({ description: 'A loaded command of higher precedence has the same name.' }),
  },
  { $id: 'Command', description: 'A slash command.' },
)
export type CommandView = Static<typeof CommandSchema>

export const CommandListSchema = Type.Object(
  {
    workspace: Nullable(
      Type.String({ description: 'The workspace whose project commands are listed; null: none.' }),
    ),
    commands: Type.Array(ref<CommandView>('Command')),
    builtins_reported: Type.Boolean({
      description: 'A Claude Code process has reported its own commands (else they are not listed yet).',
    }),
  },
  { $id: 'CommandList' },
)
export type CommandList = Static<typeof CommandListSchema>

const CommandRun = Type.String({ description: 'The command run (an alias resolved to its name).' })

export const GatewayCommandResultSchema = Type.Object(
  {
    command: CommandRun,
    source: Type.Literal('gateway'),
    output: Type.String({ description: 'What the command shows, as Claude Code would print it.' }),
    data: Type.Unknown({ description: 'The same, as the routes the command uses answered it.' }),
  },
  {
    $id: 'GatewayCommandResult',
    title: 'gateway command result',
    description: 'A command the gateway ran itself; no turn ran.',
  },
)

export const CommandTurnResultSchema = Type.Composite(
  [
    Type.Object({
      command: CommandRun,
      source: NullableEnum([...FILE_SOURCES, 'builtin', 'plugin']),
      output: Type.String({ description: "What Claude Code printed for it (the turn's `result`)." }),
    }),
    TurnResultSchema,
  ],
  {
    $id: 'CommandTurnResult',
    title: 'command turn result',
    description:
      'A command Claude Code ran, as a turn of the session. `source` is null for a name passed on before ' +
      'Claude Code reported its commands.',
  },
)

export const COMMAND_SCHEMAS = [
  CommandSchema,
  CommandListSchema,
  GatewayCommandResultSchema,
  CommandTurnResultSchema,
]

export function commandView(entry: CommandEntry): CommandView {
  return {
    name: entry.name,
    description: entry.description,
    argument_hint: entry.argumentHint,
    aliases: entry.aliases,
    source: entry.source,
    path: entry.path,
    loaded: entry.loaded,
    overridden: entry.overridden,
  }
}
