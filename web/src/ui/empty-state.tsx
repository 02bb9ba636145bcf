import type { ReactNode } from 'react'

/** Nothing to show, and what to do about it: `children` says the next step, `action` offers it. */
export function EmptyState({
  title,
  children,
  action,
}: {
  title: string
  children?: ReactNode
  action?: ReactNode
}) {
  return (
    <div className="state-box">
      <h2>{title}</h2>
      {children && <div className="state-text">{children}</div>}
      {action && <div className="state-action">{action}</div>}
    </div>
  )
}
