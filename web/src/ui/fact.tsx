import type { ReactNode } from 'react'

/** One term and its value in a list of facts (a <dl>); `className` is the pair's. */
export function Fact({
  name,
  className,
  children,
}: {
  name: string
  className?: string
  children: ReactNode
}) {
  return (
    <div className={className}>
      <dt>{name}</dt>
      <dd>{children}</dd>
    </div>
  )
}
