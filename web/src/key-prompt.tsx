import { type FormEvent, useState, useSyncExternalStore } from 'react'
import { credentials } from './api/credentials.js'
import { Button } from './ui/button.js'
import { Dialog } from './ui/dialog.js'

/**
 * Asks for an API key when the gateway answered 401. The key is checked by the next request (a wrong one
 * brings the prompt back, saying so); it stays in this tab only (sessionStorage).
 */
export function KeyPrompt() {
  const state = useSyncExternalStore(credentials.subscribe, credentials.get)
  const [dismissed, setDismissed] = useState(false)
  const [value, setValue] = useState('')
  const [tried, setTried] = useState(false)
  const open = state.required && !dismissed

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
          Enter API key
        </Button>
      )}
      <Dialog open={open} onClose={() => setDismissed(true)} title="API key needed">
        <form onSubmit={submit} className="key-form">
          <p>
            This gateway has API keys configured (<code>server.apiKeys</code>). Enter one to see and steer its
            sessions; it is kept for this tab only.
          </p>
          {tried && (
            <p className="form-error" role="alert">
              That key was refused. Check it and try again.
            </p>
          )}
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
