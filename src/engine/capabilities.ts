/**
 * What the Claude Code CLI can do, learned once from the first process that starts: its models, its
 * built-in agents and its own slash commands. Until then each is empty (commands: null, "not known yet").
 */
import type { AgentInfo, ModelInfo } from '@anthropic-ai/claude-agent-sdk'
import { builtinAgentsOf } from '../agents/index.js'
import { type ReportedCommand, reportedCommandsOf } from '../commands/index.js'
import type { Runner } from './runner.js'

/** The part of a runner that answers what its CLI supports. */
export type CapabilitySource = Pick<
  Runner,
  'cwd' | 'supportedAgents' | 'supportedCommands' | 'supportedModels'
> & { generic?: boolean }

export class CliCapabilities {
  private asked = false
  private agents: AgentInfo[] = []
  private models: ModelInfo[] = []
  private commands: ReportedCommand[] | null = null

  /** `configDir`: Claude Code's config folder as the processes see it (agents and commands live there). */
  constructor(private readonly configDir: () => string) {}

  get builtinAgents(): readonly AgentInfo[] {
    return this.agents
  }

  get supportedModels(): readonly ModelInfo[] {
    return this.models
  }

  get cliCommands(): readonly ReportedCommand[] | null {
    return this.commands
  }

  /**
   * A process is up: ask it, unless one was asked already. A failed answer leaves what was known; the
   * models are asked again of the next process when theirs failed (agents and commands are extras).
   */
  learnFrom(runner: CapabilitySource): void {
    // A user's own account or MCP servers would show their commands and agents to everyone.
    if (this.asked || runner.generic === false) return
    this.asked = true
    const location = { configDir: this.configDir(), workspace: runner.cwd }
    // Agents and commands are extras: a failed answer keeps what was known.
    const keep = <T>(answer: Promise<T>, learn: (value: T) => void) => answer.then(learn, () => undefined)
    keep(
      runner.supportedAgents().then((agents) => builtinAgentsOf(agents, location)),
      (agents) => {
        this.agents = agents
      },
    )
    keep(
      runner.supportedCommands().then((commands) => reportedCommandsOf(commands, location)),
      (commands) => {
        this.commands = commands
      },
    )
    runner.supportedModels().then(
      (models) => {
        this.models = models
      },
      () => {
        this.asked = false
      },
    )
  }
}
