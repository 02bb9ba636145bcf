import { Button } from '../../ui/button.js'
import { RelativeTime } from '../../ui/relative-time.js'
import { Badge } from '../../ui/status-pill.js'
import { type Alert, formatValue } from './figures.js'

/** What is over its threshold now, and since when; the way to change the thresholds beside it. */
export function Alerts({ alerts, onEdit }: { alerts: readonly Alert[]; onEdit: () => void }) {
  return (
    <section
      className="alerts"
      data-alerting={alerts.length > 0 ? 'true' : undefined}
      aria-labelledby="alerts-title"
    >
      <div className="alerts-head">
        <h2 id="alerts-title">Alerts</h2>
        {/* Announced when the count changes, not at every new figure. */}
        <span aria-live="polite">
          {alerts.length === 0 ? (
            <Badge tone="success">all within thresholds</Badge>
          ) : (
            <Badge tone="danger">
              {alerts.length === 1 ? '1 figure over' : `${alerts.length} figures over`}
            </Badge>
          )}
        </span>
        <Button variant="ghost" onClick={onEdit}>
          Edit thresholds
        </Button>
      </div>
      {alerts.length > 0 && (
        <ul>
          {alerts.map((alert) => (
            <li key={alert.figure} data-alert={alert.figure}>
              <strong>{alert.label}</strong> is {formatValue(alert.unit, alert.value)}, over its threshold of{' '}
              {formatValue(alert.unit, alert.threshold)} <span className="muted">· since </span>
              <RelativeTime time={alert.since} />
            </li>
          ))}
        </ul>
      )}
    </section>
  )
}
