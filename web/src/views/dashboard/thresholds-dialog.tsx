import { type FormEvent, useState } from 'react'
import { Button } from '../../ui/button.js'
import { Dialog } from '../../ui/dialog.js'
import { FormError } from '../../ui/form-error.js'
import { DEFAULT_THRESHOLDS, FIGURES, type Thresholds, thresholdOf, UNIT_NAMES } from './figures.js'

type Inputs = Record<string, string>

const inputsOf = (thresholds: Thresholds): Inputs =>
  Object.fromEntries(
    FIGURES.map(({ id }) => [id, thresholds[id] === null ? '' : String(thresholds[id] ?? '')]),
  )

/**
 * The thresholds, figure by figure: a figure above its threshold turns red and is listed as an alert; an
 * empty field means none. Saved in this browser (localStorage) by the view.
 */
export function ThresholdsDialog({
  open,
  thresholds,
  onSave,
  onClose,
}: {
  open: boolean
  thresholds: Thresholds
  onSave: (thresholds: Thresholds) => void
  onClose: () => void
}) {
  return (
    <Dialog open={open} onClose={onClose} title="Alert thresholds">
      {/* Mounted anew at each opening: the fields start from the thresholds in force. */}
      {open && <ThresholdsForm thresholds={thresholds} onSave={onSave} onClose={onClose} />}
    </Dialog>
  )
}

function ThresholdsForm({
  thresholds,
  onSave,
  onClose,
}: {
  thresholds: Thresholds
  onSave: (thresholds: Thresholds) => void
  onClose: () => void
}) {
  const [inputs, setInputs] = useState(() => inputsOf(thresholds))
  const invalid = FIGURES.filter(({ id }) => thresholdOf(inputs[id] ?? '') === undefined).map(({ id }) => id)

  const submit = (event: FormEvent) => {
    event.preventDefault()
    if (invalid.length > 0) return
    onSave(Object.fromEntries(FIGURES.map(({ id }) => [id, thresholdOf(inputs[id] ?? '') ?? null])))
  }

  return (
    <form className="thresholds-form" onSubmit={submit} noValidate>
      <p className="muted">A figure above its threshold turns red and is listed as an alert. Empty: none.</p>
      <div className="thresholds-fields">
        {FIGURES.map(({ id, label, unit }) => (
          <label
            key={id}
            className="threshold-field"
            data-invalid={invalid.includes(id) ? 'true' : undefined}
          >
            <span>{label}</span>
            <span className="threshold-input">
              <input
                inputMode="decimal"
                value={inputs[id]}
                placeholder="none"
                aria-invalid={invalid.includes(id)}
                onChange={(event) => setInputs((previous) => ({ ...previous, [id]: event.target.value }))}
              />
              <span className="muted">{UNIT_NAMES[unit]}</span>
            </span>
          </label>
        ))}
      </div>
      {invalid.length > 0 && <FormError>A threshold is a number of 0 or more, or empty for none.</FormError>}
      <div className="dialog-actions">
        <Button variant="ghost" onClick={() => setInputs(inputsOf(DEFAULT_THRESHOLDS))}>
          Reset to defaults
        </Button>
        <Button onClick={onClose}>Cancel</Button>
        <Button type="submit" variant="primary" disabled={invalid.length > 0}>
          Save
        </Button>
      </div>
    </form>
  )
}
