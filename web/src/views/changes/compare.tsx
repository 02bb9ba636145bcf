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
        <PointPicker end="from" groups={groups} selection={selection} onChange={onChange} />
        <PointPicker end="to" groups={groups} selection={selection} onChange={onChange} />
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

/** One end of the comparison: `from` is always a point of the conversation, only `to` may be now. */
function PointPicker({
  end,
  groups,
  selection,
  onChange,
}: {
  end: 'from' | 'to'
  groups: PointGroup[]
  selection: Selection
  onChange: (selection: Selection) => void
}) {
  const allowNow = end === 'to'
  const choose = (value: string) =>
    onChange(allowNow ? { ...selection, to: pointOf(value) } : { ...selection, from: pointOf(value) ?? 0 })
  return (
    <span className="changes-pick">
      <span className="muted">{end}</span>
      <select
        className="changes-point"
        aria-label={allowNow ? 'To point' : 'From point'}
        value={pointValue(selection[end])}
        onChange={(event) => choose(event.target.value)}
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
    </span>
  )
}
