/** What a session's pages (conversation, changes) show while the session itself is not there. */
import { ApiError } from '../../api/client.js'
import { Link } from '../../router.js'
import { EmptyState } from '../../ui/empty-state.js'
import { ErrorState } from '../../ui/error-state.js'
import { Spinner } from '../../ui/spinner.js'

/**
 * Deleted by another client while open (`deletedNote` says so), not a session of this gateway, failed to
 * load (with a retry), or still loading.
 */
export function SessionMissing({
  id,
  deleted,
  deletedNote,
  error,
  onRetry,
}: {
  id: string
  deleted: boolean
  deletedNote: string
  error: unknown
  onRetry: () => void
}) {
  if (deleted)
    return (
      <section className="view">
        <EmptyState title="This session was deleted" action={<Link to="/sessions">Go to the sessions</Link>}>
          <p>{deletedNote}</p>
        </EmptyState>
      </section>
    )
  return (
    <section className="view">
      {error instanceof ApiError && error.status === 404 ? (
        <EmptyState title="No such session" action={<Link to="/sessions">Go to the sessions</Link>}>
          <p>
            <code>{id}</code> is not a session of this gateway: it may have been deleted.
          </p>
        </EmptyState>
      ) : error !== undefined ? (
        <ErrorState error={error} what="The session" onRetry={onRetry} />
      ) : (
        <Spinner label="Loading the session" visibleLabel />
      )}
    </section>
  )
}
