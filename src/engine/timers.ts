/** A timer for a configured duration, where 0 means "no limit" (no timer at all). */
export function after(ms: number, callback: () => void): NodeJS.Timeout | null {
  return ms > 0 ? setTimeout(callback, ms) : null
}
