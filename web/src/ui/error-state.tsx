import { ApiError } from '../api/client.js'
import { Button } from './button.js'

/** What failed, in the gateway's words, what to do next, and a retry. */
export function ErrorState({
  error,
  onRetry,
  what = 'This',
}: {
  error: unknown
  onRetry?: () => void
  what?: string
}) {
  const { title, hint } = describe(error, what)
  return (
    <div className="state-box state-error" role="alert">
      <h2>{title}</h2>
      <p className="state-text">{hint}</p>
      {onRetry && (
        <div className="state-action">
          <Button onClick={onRetry}>Retry</Button>
        </div>
      )}
    </div>
  )
}

/** A part of a page that failed to load, said in a line where it would be (the page around it stands). */
export function InlineError({ what, error, onRetry }: { what: string; error: unknown; onRetry: () => void }) {
  return (
    <p className="form-error" role="alert">
      {what} could not be loaded: {error instanceof Error ? error.message : String(error)}{' '}
      <Button variant="ghost" onClick={onRetry}>
        Retry
      </Button>
    </p>
  )
}

function describe(error: unknown, what: string): { title: string; hint: string } {
  if (error instanceof ApiError) {
    if (error.code === 'network')
      return { title: 'The gateway cannot be reached', hint: 'Check that it is running, then retry.' }
    if (error.status === 401) return { title: 'An API key is needed', hint: 'Sign in with your API key.' }
    if (error.status === 403)
      return { title: 'Not allowed', hint: `${error.message} (${error.code}): ask an admin for access.` }
    return { title: `${what} could not be loaded`, hint: `${error.message} (${error.code})` }
  }
  return {
    title: `${what} could not be loaded`,
    hint: error instanceof Error ? error.message : String(error),
  }
}
