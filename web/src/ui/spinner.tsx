/** Something is loading; `label` is what screen readers hear (and what shows beside it, if given). */
export function Spinner({
  label = 'Loading',
  visibleLabel = false,
}: {
  label?: string
  visibleLabel?: boolean
}) {
  return (
    <span className="spinner-wrap" role="status">
      <span className="spinner" aria-hidden="true" />
      <span className={visibleLabel ? undefined : 'sr-only'}>{label}</span>
    </span>
  )
}
