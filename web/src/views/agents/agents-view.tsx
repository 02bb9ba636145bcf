/**
 * The agents: the user's agent files, a workspace's (when one is given) and Claude Code's own, each with
 * its figures — turns as a main agent, runs as a subagent type, success rate, latency, tokens and cost —
 * kept current after every finished turn. Agent files open in the editor (agent-editor.tsx).
 */
import { useCallback, useEffect, useMemo, useRef, useState } from 'react'
import { api } from '../../api/client.js'
import { isStaff, useCanChange, useMe } from '../../api/me.js'
import type { AgentFigure, AgentListItem, AgentStats } from '../../api/types/agents.js'
import { useLiveEvents } from '../../live/live.js'
import { Link, navigate, useLocation } from '../../router.js'
import { Badge } from '../../ui/badge.js'
import { Button } from '../../ui/button.js'
import { EmptyState } from '../../ui/empty-state.js'
import { ErrorState, InlineError } from '../../ui/error-state.js'
import { formatCost, formatDuration, formatTokens } from '../../ui/format.js'
import { SearchBox, TableHead, useLoad } from '../../ui/list-view.js'
import { Spinner } from '../../ui/spinner.js'
import {
  type AgentRow,
  agentRows,
  figuresChanged,
  formatRate,
  SINCE_CHOICES,
  searchRows,
  sinceOf,
} from './model.js'
import './agents.css'

const REFRESH_MS = 1000

export default function AgentsView() {
  const { query } = useLocation()
  const workspace = query.get('workspace') ?? ''
  const [agents, setAgents] = useState<AgentListItem[]>()
  const [stats, setStats] = useState<AgentStats>()
  const [error, setError] = useState<unknown>()
  const [statsError, setStatsError] = useState<unknown>()
  const [search, setSearch] = useState('')
  const [since, setSince] = useState('')
  const [folder, setFolder] = useState(workspace)
  const editable = useCanChange()
  // The figures count everyone's turns: admins and viewers only (the gateway refuses users).
  const staff = isStaff(useMe())

  const loadAgents = useCallback(async () => {
    try {
      const answer = await api.get<{ agents: AgentListItem[] }>('/agents', { query: { workspace } })
      setAgents(answer.agents)
      setError(undefined)
    } catch (failure) {
      setError(failure)
    }
  }, [workspace])

  const loadStats = useCallback(async () => {
    if (!staff) return
    try {
      setStats(await api.get<AgentStats>('/agent-stats', { query: { since: sinceOf(since, Date.now()) } }))
      setStatsError(undefined)
    } catch (failure) {
      setStatsError(failure)
    }
  }, [since, staff])

  useLoad(loadAgents)
  useLoad(loadStats)

  // A finished turn changes the figures: fetched again, at most once a second.
  const timer = useRef<ReturnType<typeof setTimeout>>(undefined)
  useEffect(() => () => clearTimeout(timer.current), [])
  useLiveEvents((events) => {
    if (!figuresChanged(events) || timer.current !== undefined) return
    timer.current = setTimeout(() => {
      timer.current = undefined
      void loadStats()
    }, REFRESH_MS)
  })

  const rows = useMemo(() => searchRows(agentRows(agents ?? [], stats), search), [agents, stats, search])
  const suffix = workspace ? `?workspace=${encodeURIComponent(workspace)}` : ''

  return (
    <section className="view agents-view" aria-labelledby="agents-title">
      <div className="view-header">
        <h1 id="agents-title">Agents</h1>
        {agents && <span className="muted">{count(agents.length, 'agent')}</span>}
        {editable && (
          <span className="view-header-end">
            <Link className="btn btn-primary" to={`/agents/new${suffix}`}>
              New agent
            </Link>
          </span>
        )}
      </div>
      <div className="toolbar">
        <SearchBox
          label="Search agents"
          placeholder="Search name, description"
          value={search}
          onChange={setSearch}
        />
        <form
          className="toolbar-group"
          onSubmit={(event) => {
            event.preventDefault()
            const next = folder.trim()
            navigate(next ? `/agents?workspace=${encodeURIComponent(next)}` : '/agents')
          }}
        >
          <input
            aria-label="Project workspace"
            placeholder="Workspace for project agents"
            value={folder}
            onChange={(event) => setFolder(event.target.value)}
          />
          <Button type="submit">Show</Button>
        </form>
        <select aria-label="Figures since" value={since} onChange={(event) => setSince(event.target.value)}>
          {SINCE_CHOICES.map((choice) => (
            <option key={choice.value} value={choice.value}>
              {choice.label}
            </option>
          ))}
        </select>
      </div>
      {statsError !== undefined && (
        <InlineError what="The figures" error={statsError} onRetry={() => void loadStats()} />
      )}
      {error !== undefined ? (
        <ErrorState error={error} what="The agents" onRetry={() => void loadAgents()} />
      ) : agents === undefined ? (
        <Spinner label="Loading agents" visibleLabel />
      ) : rows.length === 0 ? (
        search ? (
          <EmptyState
            title="No agent matches"
            action={<Button onClick={() => setSearch('')}>Clear the search</Button>}
          />
        ) : (
          <EmptyState
            title="No agents yet"
            action={
              editable && (
                <Link className="btn btn-primary" to={`/agents/new${suffix}`}>
                  Create an agent
                </Link>
              )
            }
          >
            <p>
              An agent is a Markdown file with a system prompt, in <code>~/.claude/agents/</code> (yours) or a
              workspace's <code>.claude/agents/</code>. Claude hands it tasks, or a session runs as it.
            </p>
          </EmptyState>
        )
      ) : (
        <AgentTable rows={rows} suffix={suffix} />
      )}
    </section>
  )
}

const COLUMNS: [string, string?][] = [
  ['Agent'],
  ['Scope'],
  ['Model'],
  ['Tools'],
  ['Used', 'num'],
  ['Success', 'num'],
  ['Latency p50 / p95', 'num'],
  ['Tokens', 'num'],
  ['Cost', 'num'],
]

function AgentTable({ rows, suffix }: { rows: AgentRow[]; suffix: string }) {
  return (
    <div className="table">
      <TableHead columns={COLUMNS} grid="agents-grid" />
      <ul className="table-body agents-list" aria-label="Agents">
        {rows.map((row) => (
          <li key={row.key} className="agents-grid agents-row list-row" data-agent={row.name}>
            <span className="cell-title">
              {row.agent && row.agent.scope !== 'builtin' ? (
                <Link
                  to={`/agents/${row.agent.scope}/${encodeURIComponent(row.name)}${suffix}`}
                  className="truncate agent-name"
                >
                  {row.name}
                </Link>
              ) : (
                <span className="truncate agent-name">{row.name}</span>
              )}
              <span className="muted truncate" title={row.agent?.description ?? undefined}>
                {row.agent?.description ?? (row.agent ? '' : 'No agent file: known by its figures')}
              </span>
            </span>
            <span className="agent-badges">
              <ScopeBadges agent={row.agent} />
            </span>
            <span className="truncate">{row.agent?.model ?? <span className="muted">inherit</span>}</span>
            <span className="truncate" title={row.agent?.tools?.join(', ')}>
              {row.agent?.tools ? row.agent.tools.join(', ') || 'none' : <span className="muted">all</span>}
            </span>
            <Figures row={row} show={(f, role) => count(f.runs, role === 'main' ? 'turn' : 'run')} />
            <Figures row={row} show={(f) => formatRate(f.success_rate)} />
            <Figures row={row} show={(f) => `${ms(f.latency_ms.p50)} / ${ms(f.latency_ms.p95)}`} />
            <Figures
              row={row}
              show={(f) => `${formatTokens(f.tokens.input)} in · ${formatTokens(f.tokens.output)} out`}
            />
            <Figures row={row} show={(f) => (f.cost_usd === null ? '—' : formatCost(f.cost_usd))} />
          </li>
        ))}
      </ul>
    </div>
  )
}

/** One line per role the agent ran in: as a main agent, then as a subagent. */
function Figures({
  row,
  show,
}: {
  row: AgentRow
  show: (figure: AgentFigure, role: 'main' | 'subagent') => string
}) {
  if (!row.main && !row.subagent) return <span className="num muted">—</span>
  return (
    <span className="num figure-lines">
      {row.main && <span title="As a session's main agent">{show(row.main, 'main')}</span>}
      {row.subagent && <span title="As a subagent (Task)">{show(row.subagent, 'subagent')}</span>}
    </span>
  )
}

const count = (n: number, noun: string) => `${n} ${noun}${n === 1 ? '' : 's'}`
const ms = (value: number | null) => (value === null ? '—' : formatDuration(value))

function ScopeBadges({ agent }: { agent: AgentListItem | undefined }) {
  if (!agent) return <Badge>figures only</Badge>
  return (
    <>
      <Badge tone={agent.scope === 'builtin' ? 'neutral' : 'accent'}>{agent.scope}</Badge>
      {agent.error ? (
        <span title={agent.error}>
          <Badge tone="danger">invalid</Badge>
        </span>
      ) : !agent.loaded ? (
        <span title={`Claude Code does not load ${agent.scope} agents (claude.settingSources)`}>
          <Badge tone="warning">not loaded</Badge>
        </span>
      ) : agent.overridden ? (
        <span title="A project agent of the same name wins">
          <Badge tone="warning">overridden</Badge>
        </span>
      ) : null}
    </>
  )
}
