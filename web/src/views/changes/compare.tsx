/**
 * A file compared between any two points of the conversation: the start (before the session changed it),
 * after any change of the session, or now.
 */
import { useMemo } from 'react'
import type { ChangeRollup } from '../../api/types/changes.js'
import { Button } from '../../ui/button.js'
import { ComparisonBody } from './change-card.js'
import { useFileAt } from './file-at.js'
import { type PointGroup, pointGroups, pointOf, pointValue, relativeTo, type Selection } from './model.js'

export function Compare({
  session,
  rollup,
  base,
  selection,
  version,
  onChange,
}: {
  session: string
  rollup: ChangeRollup
  base: string
  selection: Selection
  version: number
  onChange: (selection: Selection) => void
}) {
  const { file, from, to } = selection
  const groups = useMemo(() => pointGroups(rollup, file, base), [rollup, file, base])
  const [state, retry] = useFileAt(
    file === undefined ? undefined : { session, path: file, from, to },
    true,
    version,
  )
  const swap = () => {
    if (to !== undefined) onChange({ ...selection, from: to, to: from })
  }
  return (
    <section className="changes-compare" aria-labelledby="compare-title">
      <div className="changes-compare-bar">
        <h2 id="compare-title">Compare</h2>
        <select
          aria-label="File to compare"
          value={file ?? ''}
          onChange={(event) => onChange({ ...selection, file: event.target.value || undefined })}
        >
          <option value="">Choose a file…</option>
          {rollup.files.map((each) => (
            <option key={each.path} value={each.path}>
              {relativeTo(each.path, base)}
            </option>
          ))}
        </select>
        <span className="changes-pick">
          <span className="muted">from</span>
          <PointPicker
            label="From point"
            groups={groups}
            value={pointValue(from)}
            onChange={(value) => onChange({ ...selection, from: pointOf(value) ?? 0 })}
            allowNow={false}
          />
        </span>
        <span className="changes-pick">
          <span className="muted">to</span>
          <PointPicker
            label="To point"
            groups={groups}
            value={pointValue(to)}
            onChange={(value) => onChange({ ...selection, to: pointOf(value) })}
            allowNow
          />
        </span>
        <Button variant="ghost" onClick={swap} disabled={to === undefined} title="Swap the two points">
          ⇄ Swap
        </Button>
      </div>
      {file === undefined ? (
        <p className="diff-note">
          Pick a file (here or in the list) to see it as it was at one point of the conversation against
          another.
        </p>
      ) : (
        <ComparisonBody state={state} retry={retry} path={file} />
      )}
    </section>
  )
}

function PointPicker({
  label,
  groups,
  value,
  onChange,
  allowNow,
}: {
  label: string
  groups: PointGroup[]
  value: string
  onChange: (value: string) => void
  allowNow: boolean
}) {
  return (
    <select
      className="changes-point"
      aria-label={label}
      value={value}
      onChange={(event) => onChange(event.target.value)}
    >
      {groups.map((group, index) => (
        // biome-ignore lint/suspicious/noArrayIndexKey: two turns can start in the same second.
        <optgroup key={index} label={group.label}>
          {group.options.map((option) => (
            <option key={option.value} value={option.value} disabled={!allowNow && option.value === 'now'}>
              {option.label}
            </option>
          ))}
        </optgroup>
      ))}
    </select>
  )
}
