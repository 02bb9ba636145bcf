/** How figures read in the UI, everywhere the same. Pure: node:test checks them. */
import type { Usage } from '../api/types/sessions.js'

const compact = new Intl.NumberFormat('en', { notation: 'compact', maximumFractionDigits: 1 })

/** 950, 12.3K, 4.5M */
export const formatTokens = (count: number) => compact.format(count)

/** Every token a session's usage counts: in, out, and the cache's reads and writes. */
export const totalTokens = (usage: Usage) =>
  usage.input_tokens + usage.output_tokens + usage.cache_read_input_tokens + usage.cache_creation_input_tokens

/** $0.00 for nothing, four decimals under a cent, two above. */
export function formatCost(usd: number): string {
  if (usd === 0) return '$0.00'
  return usd < 0.01 ? `$${usd.toFixed(4)}` : `$${usd.toFixed(2)}`
}

/** "just now", "5 min ago", "3 h ago", "2 d ago", then the date. */
export function formatRelative(then: number, now: number): string {
  const seconds = Math.round((now - then) / 1000)
  if (seconds < 45) return 'just now'
  const minutes = Math.round(seconds / 60)
  if (minutes < 60) return `${minutes} min ago`
  const hours = Math.round(minutes / 60)
  if (hours < 24) return `${hours} h ago`
  const days = Math.round(hours / 24)
  if (days < 30) return `${days} d ago`
  return new Date(then).toISOString().slice(0, 10)
}

/** The last folder of a path: what tells workspaces apart in a narrow column. */
export const baseName = (path: string) => path.replace(/\/+$/, '').split('/').pop() || path

/** A duration from milliseconds: 840 ms, 3.2 s, 4 min 05 s, 1 h 12 min. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${ms < 10 ? Number(ms.toFixed(1)) : Math.round(ms)} ms`
  if (ms < 60_000) return `${Number((ms / 1000).toFixed(ms < 10_000 ? 2 : 1))} s`
  const seconds = Math.round(ms / 1000)
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ${String(seconds % 60).padStart(2, '0')} s`
  const minutes = Math.round(seconds / 60)
  return `${Math.floor(minutes / 60)} h ${String(minutes % 60).padStart(2, '0')} min`
}

/** Bytes in binary units, as memory is counted: 512 B, 12.4 MB, 1.9 GB. */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB']
  let value = bytes
  let unit = 0
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit += 1
  }
  return `${unit === 0 ? value : Number(value.toFixed(value < 10 ? 1 : 0))} ${units[unit]}`
}
