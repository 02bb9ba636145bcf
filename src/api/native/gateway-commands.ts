/**
 * The slash commands the gateway runs itself: those Claude Code answers with "isn't available in this
 * environment" when it runs headless (/help, /status, /memory, /permissions, /add-dir, /export, /resume,
 * /hooks, /skills), and /agents, whose wizard it no longer has. Each has the effect it has in Claude Code.
 *
 * A command here is a text front end to the native API: it calls the functions its routes call, so
 * validation, confinement to the workspace roots and settings changes are theirs, and its answer shows what
 * the route would answer, as text (`output`) and as it is (`data`). A route's error is the command's, about
 * what was typed after the name (`field: "body.args"`). Only the settings files read by /hooks and
 * /permissions have no route of their own.
 */
import { extname, resolve } from 'node:path'
import type { Static } from '@sinclair/typebox'
import { type CommandInfo, type SettingsFile, settingsFiles } from '../../commands/index.js'
import type { GatewayContext } from '../../gateway.js'
import type { SessionRecord } from '../../store/types.js'
import type { Principal } from '../../users/principal.js'
import { agentList } from './agents.js'
import type { CommandView, GatewayCommandResultSchema } from './command-views.js'
import { ApiError, invalid } from './errors.js'
import { exportOf } from './history-export.js'
import { type MemoryView, memoryOf, writeMemory } from './memory.js'
import { changeToolPermissions, toolPermissionsOf } from './permissions.js'
import { claudeHome, sessionOrThrow } from './resolve.js'
import { changeContext } from './session-options.js'
import { sessionPage } from './sessions.js'
import { runDirectTool } from './tools.js'
import { sessionView, type toolPermissionsView } from './views.js'

export interface GatewayCommandContext {
  gateway: GatewayContext
  /** Who runs the command: what the routes it calls check (their settings policy, scopes, lists). */
  principal: Principal
  session: SessionRecord
  /** What follows the command's name, trimmed. */
  args: string
  /** The session's commands, as `GET /sessions/{id}/commands` lists them. */
  commands: () => Promise<readonly CommandView[]>
}

/** What the command shows, as Claude Code would print it (`output`), and as the routes answered it (`data`). */
export type GatewayCommandResult = Pick<Static<typeof GatewayCommandResultSchema>, 'output' | 'data'>

export interface GatewayCommand extends CommandInfo {
  run(context: GatewayCommandContext): Promise<GatewayCommandResult>
}

type SessionView = ReturnType<typeof sessionView>
type ToolPermissions = ReturnType<typeof toolPermissionsView>

/** `/memory [scope] text`: the scope's name, then the text as typed (line breaks kept). */
const MEMORY_SCOPE = /^(project|local|user)(?:\s+([\s\S]*))?$/
const EXPORT_FORMATS: Record<string, 'markdown' | 'html' | 'json'> = { '.html': 'html', '.json': 'json' }

const command = (
  name: string,
  description: string,
  argumentHint: string,
  run: GatewayCommand['run'],
): GatewayCommand => ({
  name,
  description,
  argumentHint,
  aliases: [],
  run: (context) => run(context).catch(asArgsError),
})

/** A route's error about one of its fields is, for a command, about what was typed after the name. */
function asArgsError(error: unknown): never {
  if (!(error instanceof ApiError) || !error.field) throw error
  const { code, message, retryAfter, status } = error
  throw new ApiError(code, message, { field: 'body.args', retryAfter, status })
}

export const GATEWAY_COMMANDS: readonly GatewayCommand[] = [
  command('help', 'List the commands of this session, with what each does', '', async ({ commands }) => {
    const list = await runnable(commands)
    return { output: lines(list.map(describeCommand)), data: { commands: list } }
  }),

  command(
    'status',
    "Show the session: state, model, workspace, Claude Code's process, usage",
    '',
    async ({ gateway: { engine }, session }) => {
      const view = sessionView(await sessionOrThrow(engine, session.id), engine)
      return { output: statusText(view), data: view }
    },
  ),

  command(
    'memory',
    'Show the memory files (CLAUDE.md); with text, add it to one (project by default)',
    '[project|local|user] [text]',
    async ({ gateway, principal, session, args }) => {
      if (!args) {
        const answer = await memoryOf(gateway, session.id)
        return { output: answer.files.map(memoryText).join('\n\n'), data: answer }
      }
      const named = MEMORY_SCOPE.exec(args)
      const scope = named?.[1] ?? 'project'
      const content = named ? (named[2] ?? '') : args
      if (!content) throw invalid(`/memory ${scope} needs the text to add`, 'body.args')
      const file = await writeMemory(gateway, principal, session.id, {
        scope: scope as MemoryView['scope'],
        mode: 'add',
        content,
      })
      return { output: `Added to the ${scope} memory (${file.path}); the next turn reads it.`, data: file }
    },
  ),

  command(
    'permissions',
    "Show the permission rules; allow, deny or remove rules for this session's tools",
    '[allow|deny|remove <rule>...]',
    async (context) => {
      const { gateway, principal, session, args } = context
      let rules = await toolPermissionsOf(gateway.engine, session.id)
      if (args) {
        const [verb = '', ...changed] = ruleList(args)
        if (!['allow', 'deny', 'remove'].includes(verb) || changed.length === 0)
          throw invalid('Use: /permissions allow|deny|remove <rule>... (e.g. allow Bash(ls:*))', 'body.args')
        const without = (list: string[]) => list.filter((rule) => !changed.includes(rule))
        const allowed = without(rules.allowed_tools)
        const denied = without(rules.disallowed_tools)
        if (verb === 'allow') allowed.push(...changed)
        if (verb === 'deny') denied.push(...changed)
        rules = await changeToolPermissions(gateway, principal, session.id, {
          allowed_tools: allowed,
          disallowed_tools: denied,
        })
      }
      const files = await settingsFiles(await locationsOf(context), settingSourcesOf(context))
      const data = {
        ...rules,
        settings_files: files.map((file) => ({
          ...fileView(file),
          permissions: file.settings?.permissions ?? null,
        })),
      }
      return { output: permissionsText(data), data }
    },
  ),

  command(
    'add-dir',
    'Add a working directory for this session (under the allowed workspace roots)',
    '<path>',
    async ({ gateway, principal, session, args }) => {
      if (!args) throw invalid('/add-dir needs the path of a directory', 'body.args')
      const path = resolve(session.settings.workspace, args)
      const before = session.settings.additionalDirectories
      const view = await changeContext(gateway, principal, session.id, {
        additional_directories: [...before, path],
      })
      const added = view.settings.additional_directories.at(-1)
      return { output: `Added ${added} as a working directory of this session.`, data: view }
    },
  ),

  command(
    'export',
    'Show the conversation as Markdown, or write it to a file of the workspace (.md, .html or .json)',
    '[file]',
    async ({ gateway, session, args }) => {
      const format = args ? (EXPORT_FORMATS[extname(args).toLowerCase()] ?? 'markdown') : 'markdown'
      const content = (await exportOf(gateway, session.id, format)).body
      if (!args) return { output: content, data: { format, path: null } }
      const written = (await runDirectTool(gateway, session.id, 'write', {
        file_path: args,
        content,
      })) as { filePath: string }
      return {
        output: `Conversation exported to ${written.filePath}`,
        data: { format, path: written.filePath },
      }
    },
  ),

  command(
    'resume',
    'List the sessions of this workspace (send a message to one to continue it)',
    '',
    async ({ gateway, principal, session }) => {
      const page = await sessionPage(
        gateway.engine,
        { workspace: session.settings.workspace, limit: 50, offset: 0 },
        principal,
      )
      const sessions = page.items.filter((item) => item.state !== 'closed')
      const text = sessions.map(
        (item) =>
          `${item.id}  ${item.state}  ${item.turns} turns  ${item.updated_at}` +
          `${item.title ? `  ${item.title}` : ''}${item.id === session.id ? '  (this session)' : ''}`,
      )
      return { output: lines(text, 'No sessions in this workspace.'), data: { sessions } }
    },
  ),

  command('hooks', "Show the hooks of Claude Code's settings files", '', async (context) => {
    const files = await settingsFiles(await locationsOf(context), settingSourcesOf(context))
    const withHooks = files.map((file) => ({ ...fileView(file), hooks: file.settings?.hooks ?? null }))
    const text = withHooks.flatMap(({ scope, path, loaded, hooks }) =>
      hooks ? [`${scope} settings (${path})${loaded ? '' : ' — not loaded'}:`, ...hookLines(hooks)] : [],
    )
    return { output: lines(text, 'No hooks are configured.'), data: { files: withHooks } }
  }),

  command(
    'skills',
    'List the skills of this session (user and project skill files)',
    '',
    async ({ commands }) => {
      const skills = (await runnable(commands)).filter((entry) => entry.source.startsWith('skill-'))
      return { output: lines(skills.map(describeCommand), 'No skills.'), data: { skills } }
    },
  ),

  command(
    'agents',
    "List the agents of this workspace, with Claude Code's own",
    '',
    async ({ gateway, session }) => {
      // The session's agents: its owner's user scope, its workspace.
      const answer = await agentList(
        gateway,
        session.owner,
        gateway.engine.builtinAgents,
        session.settings.workspace,
      )
      const text = answer.agents.map(
        (agent) =>
          `${agent.name} (${agent.scope}${agent.loaded ? '' : ', not loaded'}${agent.overridden ? ', overridden' : ''})` +
          `${agent.description ? ` — ${agent.description}` : ''}`,
      )
      return { output: lines(text, 'No agents.'), data: answer }
    },
  ),
]

/** The session's runnable commands: loaded, and not overridden by another of the same name. */
async function runnable(commands: GatewayCommandContext['commands']): Promise<CommandView[]> {
  return (await commands()).filter((entry) => entry.loaded && !entry.overridden)
}

function describeCommand(entry: CommandView): string {
  const usage = `/${entry.name}${entry.argument_hint ? ` ${entry.argument_hint}` : ''}`
  const aliases = entry.aliases.length
    ? ` (also ${entry.aliases.map((alias) => `/${alias}`).join(', ')})`
    : ''
  return `${usage} — ${entry.description || '(no description)'}${aliases} [${entry.source}]`
}

function statusText(view: SessionView): string {
  const { usage } = view
  const rows: [string, string][] = [
    ['Session', `${view.id}${view.title ? ` (${view.title})` : ''}`],
    ['State', view.state],
    ['Workspace', view.workspace],
    ['Additional directories', view.settings.additional_directories.join(', ') || 'none'],
    ['Model', view.model ?? "Claude Code's default"],
    ['Agent', view.agent ?? 'none'],
    ['Permission mode', view.permission_mode],
    ['Claude session', view.claude_session_id ?? 'none yet'],
    ['Process', view.runner ? `pid ${view.runner.pid} (${view.runner.busy ? 'busy' : 'idle'})` : 'none'],
    ['Turns', String(view.turns)],
    [
      'Tokens',
      `${usage.input_tokens} in, ${usage.output_tokens} out, ` +
        `${usage.cache_read_input_tokens} cache read, ${usage.cache_creation_input_tokens} cache write`,
    ],
    ['Cost', `$${view.cost_usd.toFixed(4)}`],
  ]
  const width = Math.max(...rows.map(([key]) => key.length)) + 1
  return lines(rows.map(([key, value]) => `${`${key}:`.padEnd(width)} ${value}`))
}

function memoryText(file: MemoryView): string {
  const head = `${file.scope} memory: ${file.path}`
  if (file.content === null) return `${head} (none)`
  return `${head} (${file.size} bytes${file.truncated ? ', truncated' : ''})\n${file.content.trimEnd()}`
}

interface PermissionsData extends ToolPermissions {
  settings_files: (ReturnType<typeof fileView> & { permissions: unknown })[]
}

function permissionsText(data: PermissionsData): string {
  const out = [
    `Permission mode: ${data.permission_mode}`,
    `Allowed for this session: ${data.allowed_tools.join(', ') || 'none'}`,
    `Denied for this session: ${data.disallowed_tools.join(', ') || 'none'}`,
  ]
  for (const file of data.settings_files) {
    const rules = file.permissions as Record<string, unknown> | null
    if (!rules || typeof rules !== 'object') continue
    out.push(`${file.scope} settings (${file.path})${file.loaded ? '' : ' — not loaded'}:`)
    for (const kind of ['allow', 'deny', 'ask'])
      if (Array.isArray(rules[kind])) out.push(`  ${kind}: ${(rules[kind] as unknown[]).join(', ')}`)
  }
  return lines(out)
}

/** `{ Event: [{ matcher, hooks: [{ type, command }] }] }`, one line per hook. */
function hookLines(hooks: unknown): string[] {
  if (typeof hooks !== 'object' || hooks === null) return []
  return Object.entries(hooks).flatMap(([event, matchers]) =>
    (Array.isArray(matchers) ? matchers : []).flatMap((matcher: { matcher?: unknown; hooks?: unknown }) =>
      (Array.isArray(matcher.hooks) ? matcher.hooks : []).map(
        (hook: { type?: unknown; command?: unknown }) =>
          `  ${event}${matcher.matcher ? ` [${String(matcher.matcher)}]` : ''}: ` +
          `${String(hook.command ?? hook.type ?? 'hook')}`,
      ),
    ),
  )
}

/** Rules separated by spaces or commas; a rule's own `( … )` may hold both (`Bash(npm run test:*)`). */
function ruleList(text: string): string[] {
  const rules: string[] = []
  let current = ''
  let depth = 0
  for (const char of text) {
    if (char === '(') depth++
    if (char === ')') depth = Math.max(0, depth - 1)
    if (depth === 0 && (char === ',' || /\s/.test(char))) {
      if (current) rules.push(current)
      current = ''
    } else current += char
  }
  if (current) rules.push(current)
  return rules
}

function fileView(file: SettingsFile) {
  return {
    scope: file.scope,
    path: file.path,
    loaded: file.loaded,
    ...(file.error ? { error: file.error } : {}),
  }
}

/** The settings files of the session: its workspace's, and its owner's Claude Code folder's. */
const locationsOf = async ({ gateway, session }: GatewayCommandContext) => ({
  configDir: (await claudeHome(gateway, session.owner)).dir,
  workspace: session.settings.workspace,
})

const settingSourcesOf = ({ gateway }: GatewayCommandContext) => gateway.config.claude.settingSources

const lines = (items: string[], empty = '') => (items.length ? items.join('\n') : empty)
