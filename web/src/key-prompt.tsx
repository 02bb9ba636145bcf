import { type FormEvent, useEffect, useState, useSyncExternalStore } from 'react'
import { credentials } from './api/credentials.js'
import { Button } from './ui/button.js'
import { Dialog } from './ui/dialog.js'
import { FormError } from './ui/form-error.js'

/**
 * Signs in: asks for an API key when the gateway answered 401 (or after signing out). The key is checked by
 * the next request (a wrong one brings the prompt back, saying so); it stays in this tab only
 * (sessionStorage). Whose key it is decides what the UI shows (api/me.ts).
 */
export function KeyPrompt() {
  const state = useSyncExternalStore(credentials.subscribe, credentials.get)
  const [dismissed, setDismissed] = useState(false)
  const [value, setValue] = useState('')
  const [tried, setTried] = useState(false)
  const open = state.required && !dismissed

  // Signed out on purpose: the prompt opens for the next person, with no refusal to report.
  useEffect(() => {
    if (!state.signedOut) return
    setDismissed(false)
    setTried(false)
  }, [state.signedOut])

  const submit = (event: FormEvent) => {
    event.preventDefault()
    if (!value.trim()) return
    setTried(true)
    setValue('')
    credentials.set(value.trim())
  }

  return (
    <>
      {state.required && dismissed && (
        <Button variant="primary" onClick={() => setDismissed(false)}>
          Sign in
        </Button>
      )}
      <Dialog open={open} onClose={() => setDismissed(true)} title="API key needed">
        <form onSubmit={submit} className="key-form">
          <p>
            Sign in with your API key: one an admin made for you, or one of the gateway's{' '}
            <code>server.apiKeys</code>. What you see and may do follows from it. It is kept for this tab
            only.
          </p>
          {tried && !state.signedOut && <FormError>That key was refused. Check it and try again.</FormError>}
          <label htmlFor="api-key">API key</label>
          <input
            id="api-key"
            type="password"
            autoComplete="off"
            autoFocus
            value={value}
            onChange={(event) => setValue(event.target.value)}
          />
          <div className="dialog-actions">
            <Button onClick={() => setDismissed(true)}>Later</Button>
            <Button type="submit" variant="primary">
              Use this key
            </Button>
          </div>
        </form>
      </Dialog>
    </>
  )
}
