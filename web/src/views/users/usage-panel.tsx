/**
 * A user's quotas and what they used of them (`GET /api/me/usage` or `/api/users/{name}/usage`): each
 * limit with its use, what remains and when it resets, fetched again after their turns end.
 */
import { useEffect, useRef } from 'react'
import type { UsageReport } from '../../api/types/users.js'
import { useLiveEvents } from '../../live/live.js'
import { InlineError } from '../../ui/error-state.js'
import { useFetched } from '../../ui/list-view.js'
import { Spinner } from '../../ui/spinner.js'
import { formatAmount, formatUtc, shareTone, type UsageLine, usageLines } from './model.js'
import './panels.css'

const REFRESH_MS = 1000

/** The usage of `path`'s user, kept current: a turn's end (of anyone this tab sees) fetches it again. */
export function useUsage(path: string) {
  const { value: report, error, load } = useFetched<UsageReport>(path)
  const timer = useRef<ReturnType<typeof setTimeout>>(undefined)
  useEffect(() => () => clearTimeout(timer.current), [])
  useLiveEvents((events) => {
    if (timer.current !== undefined || !events.some((event) => event.type === 'turn.completed')) return
    timer.current = setTimeout(() => {
      timer.current = undefined
      void load()
    }, REFRESH_MS)
  })
  return { report, error, reload: load }
}

export function UsagePanel({ path, title = 'Usage' }: { path: string; title?: string }) {
  const { report, error, reload } = useUsage(path)
  return (
    <section className="card usage-panel" aria-label={title}>
      <h2>{title}</h2>
      {report ? (
        <UsageTable lines={usageLines(report)} />
      ) : error !== undefined ? (
        <InlineError what="The usage" error={error} onRetry={() => void reload()} />
      ) : (
        <Spinner label="Loading the usage" />
      )}
    </section>
  )
}

function UsageTable({ lines }: { lines: UsageLine[] }) {
  return (
    <table className="usage-table">
      <thead>
        <tr>
          <th scope="col">Limit</th>
          <th scope="col" className="num">
            Used
          </th>
          <th scope="col" className="num">
            Quota
          </th>
          <th scope="col" className="num">
            Remaining
          </th>
          <th scope="col">
            <span className="sr-only">Share used</span>
          </th>
          <th scope="col">Resets</th>
        </tr>
      </thead>
      <tbody>
        {lines.map((line) => (
          <tr key={line.quota.name} data-quota={line.quota.name}>
            <th scope="row">{line.quota.label}</th>
            <td className="num">{formatAmount(line.used, line.quota.kind)}</td>
            <td className="num">
              {line.limit === null ? (
                <span className="muted">none</span>
              ) : (
                formatAmount(line.limit, line.quota.kind)
              )}
            </td>
            <td className="num">
              {line.remaining === null ? (
                <span className="muted">unlimited</span>
              ) : (
                formatAmount(line.remaining, line.quota.kind)
              )}
            </td>
            <td>
              {line.share !== null && <UsageBar share={line.share} label={`${line.quota.label} used`} />}
            </td>
            <td>{line.resets ? formatUtc(line.resets) : <span className="muted">—</span>}</td>
          </tr>
        ))}
      </tbody>
    </table>
  )
}

/** How much of a limit is used, as a bar; the percentage is said, not only drawn. */
export function UsageBar({ share, label }: { share: number; label: string }) {
  return (
    <span className="usage-bar-line">
      <meter
        className={`usage-bar usage-${shareTone(share)}`}
        aria-label={label}
        min={0}
        max={1}
        value={share}
      />
      <span className="muted num">{Math.round(share * 100)}%</span>
    </span>
  )
}
