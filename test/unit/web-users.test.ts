/**
 * The admin UI's users, account and audit pages without a browser: limits and their use
 * (web/src/views/users/model.ts), the new-user and new-key forms as request bodies, the audit filters as
 * queries and its pages (web/src/views/audit/model.ts), and signing out (web/src/api/credentials.ts).
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { USER_NAME_PATTERN } from '../../src/config/users-schema.js'
import { type ApiError, createApiClient } from '../../web/src/api/client.js'
import { credentials } from '../../web/src/api/credentials.js'
import type { AuditEntry, UsageReport, User } from '../../web/src/api/types/users.js'
import {
  addPage,
  detailLine,
  EMPTY,
  filterQuery,
  NO_FILTERS,
  PAGE_SIZE,
  pageQuery,
  statusTone,
  timeOf,
} from '../../web/src/views/audit/model.js'
import {
  EMPTY_USER_FORM,
  fieldOf,
  formatUtc,
  keyBody,
  limitOf,
  QUOTAS,
  quotaSummary,
  searchUsers,
  shareTone,
  USER_NAME,
  usageLines,
  userBody,
} from '../../web/src/views/users/model.js'

const quota = (name: string) => QUOTAS.find((each) => each.name === name)!

const REPORT: UsageReport = {
  quotas: { tokens_per_day: 1000, usd_per_month: 10, requests_per_minute: 0 },
  used: {
    requests_last_minute: 3,
    concurrent_turns: 1,
    live_sessions: 2,
    tokens_today: 1500,
    tokens_this_month: 40_000,
    usd_today: 0.5,
    usd_this_month: 2.5,
  },
  remaining: { tokens_per_day: 0, usd_per_month: 7.5 },
  resets: { day: '2026-12-08T00:00:00.000Z', month: '2027-01-01T00:00:00.000Z' },
}

describe('limits and their use', () => {
  test('every usage figure has its limit', () => {
    assert.deepEqual(
      QUOTAS.map((each) => each.name),
      [
        'requests_per_minute',
        'concurrent_turns',
        'live_sessions',
        'tokens_per_day',
        'tokens_per_month',
        'usd_per_day',
        'usd_per_month',
      ],
    )
    assert.deepEqual(Object.keys(REPORT.used).sort(), QUOTAS.map((each) => each.used).sort())
  })

  test('absent, null and 0 are no limit', () => {
    assert.equal(limitOf({ tokens_per_day: 5 }, quota('tokens_per_day')), 5)
    assert.equal(limitOf({ tokens_per_day: 0 }, quota('tokens_per_day')), null)
    assert.equal(limitOf({ tokens_per_day: null }, quota('tokens_per_day')), null)
    assert.equal(limitOf(undefined, quota('tokens_per_day')), null)
    assert.deepEqual(quotaSummary({ usd_per_day: 2, live_sessions: 3, concurrent_turns: 0 }), [
      'Live sessions: 3',
      'USD per day: $2.00',
    ])
  })

  test('each line: used, limit, what remains (the gateway’s word first), share capped at 1, reset time', () => {
    const lines = new Map(usageLines(REPORT).map((line) => [line.quota.name, line]))
    assert.deepEqual(
      { ...lines.get('tokens_per_day')!, quota: undefined },
      { quota: undefined, used: 1500, limit: 1000, remaining: 0, share: 1, resets: REPORT.resets.day },
    )
    assert.deepEqual(
      { ...lines.get('usd_per_month')!, quota: undefined },
      { quota: undefined, used: 2.5, limit: 10, remaining: 7.5, share: 0.25, resets: REPORT.resets.month },
    )
    const rpm = lines.get('requests_per_minute')!
    assert.deepEqual([rpm.used, rpm.limit, rpm.remaining, rpm.share, rpm.resets], [3, null, null, null, null])
    // Without `remaining` from the gateway: the difference, never below 0.
    const derived = usageLines({ ...REPORT, remaining: {} }).find(
      (line) => line.quota.name === 'usd_per_month',
    )!
    assert.equal(derived.remaining, 7.5)
    assert.deepEqual([shareTone(0.5), shareTone(0.8), shareTone(1)], ['success', 'warning', 'danger'])
    assert.equal(formatUtc('2026-12-08T00:00:00.000Z'), '2026-12-08 00:00 UTC')
  })
})

describe('forms', () => {
  test('names follow the gateway’s pattern', () => {
    assert.equal(USER_NAME.source, USER_NAME_PATTERN)
  })

  test('a new user: trimmed, empty fields left out, quotas as numbers, each mistake on its field', () => {
    assert.deepEqual(userBody({ ...EMPTY_USER_FORM, name: ' alice ' }), {
      body: { name: 'alice', role: 'user' },
    })
    assert.deepEqual(
      userBody({
        name: 'bob',
        role: 'viewer',
        workspaceRoots: '/srv/a\n\n /srv/b \n',
        allowedTools: 'Read, Grep\nBash',
        quotas: { tokens_per_day: '5000', usd_per_month: '2.5', live_sessions: '0', concurrent_turns: ' ' },
      }),
      {
        body: {
          name: 'bob',
          role: 'viewer',
          workspace_roots: ['/srv/a', '/srv/b'],
          allowed_tools: ['Read', 'Grep', 'Bash'],
          quotas: { tokens_per_day: 5000, usd_per_month: 2.5 },
        },
      },
    )
    const wrong = userBody({
      ...EMPTY_USER_FORM,
      name: 'Alice!',
      workspaceRoots: 'relative/dir',
      quotas: { tokens_per_day: '1.5', usd_per_day: '-1', live_sessions: 'many' },
    })
    assert.deepEqual(Object.keys(wrong.errors ?? {}).sort(), [
      'name',
      'quotas.live_sessions',
      'quotas.tokens_per_day',
      'quotas.usd_per_day',
      'workspace_roots',
    ])
    assert.equal(wrong.body, undefined)
  })

  test('a new key: a label and whole days, both optional', () => {
    assert.deepEqual(keyBody('', ''), { body: {} })
    assert.deepEqual(keyBody(' laptop ', '30'), { body: { label: 'laptop', expires_in_days: 30 } })
    for (const days of ['0', '1.5', 'soon', '9999'])
      assert.ok(keyBody('x', days).errors?.expires_in_days, days)
  })

  test('a refusal’s field, as the gateway names it, lands on the form’s field', () => {
    assert.equal(fieldOf('name'), 'name')
    assert.equal(fieldOf('/name'), 'name')
    assert.equal(fieldOf('body.quotas.tokens_per_day'), 'quotas.tokens_per_day')
    assert.equal(fieldOf('/quotas/tokens_per_day'), 'quotas.tokens_per_day')
    assert.equal(fieldOf(undefined), undefined)
  })

  test('the list is sorted by name and searched by name, role and source', () => {
    const user = (name: string, role: User['role'], source: User['source']) =>
      ({ name, role, source }) as User
    const users = [
      user('zed', 'viewer', 'store'),
      user('amy', 'admin', 'config'),
      user('bo', 'user', 'store'),
    ]
    const found = (query: string) => searchUsers(users, query).map((each) => each.name)
    assert.deepEqual(found(''), ['amy', 'bo', 'zed'])
    assert.deepEqual(found('VIEW'), ['zed'])
    assert.deepEqual(found('config'), ['amy'])
  })
})

describe('the audit trail', () => {
  const entry = (id: number): AuditEntry => ({
    id,
    ts: 1_765_000_000_000 + id,
    actor: 'alice',
    role: 'user',
    action: 'createSession',
    session_id: null,
    target: null,
    status: 201,
    request_id: null,
    ip: null,
    detail: null,
  })

  test('filters: empty ones left out, times as ISO, the cursor and the page size when paging on', () => {
    assert.deepEqual(filterQuery(NO_FILTERS), {
      actor: undefined,
      action: undefined,
      session_id: undefined,
      since: undefined,
      until: undefined,
    })
    const filters = {
      actor: ' alice ',
      action: 'revokeKey',
      session_id: '',
      since: '2026-12-07T10:30',
      until: 'nope',
    }
    assert.deepEqual(pageQuery(filters, 42), {
      actor: 'alice',
      action: 'revokeKey',
      session_id: undefined,
      since: new Date('2026-12-07T10:30').getTime(),
      until: undefined,
      before: 42,
      limit: PAGE_SIZE,
    })
    assert.equal(pageQuery(filters, null).before, undefined)
    assert.equal(timeOf(' '), undefined)
  })

  test('pages add up newest first, each entry once, and the last cursor says whether there is more', () => {
    const first = addPage(EMPTY, { items: [entry(9), entry(8), entry(7)], next_before: 7 })
    assert.equal(first.next, 7)
    const second = addPage(first, { items: [entry(7), entry(6)], next_before: null })
    assert.deepEqual(
      second.items.map((each) => each.id),
      [9, 8, 7, 6],
    )
    assert.equal(second.next, null)
  })

  test('an entry’s detail and status read at a glance', () => {
    assert.equal(detailLine(null), '')
    assert.equal(
      detailLine({ model: 'sonnet', chars: 42, tools: ['Read'] }),
      'model: sonnet · chars: 42 · tools: ["Read"]',
    )
    assert.deepEqual(
      [statusTone(0), statusTone(204), statusTone(403), statusTone(500)],
      ['neutral', 'success', 'warning', 'danger'],
    )
  })
})

describe('signing out', () => {
  test('forgets the key and asks for one, marked as signed out rather than refused', () => {
    const seen: boolean[] = []
    const stop = credentials.subscribe(() => seen.push(credentials.get().required))
    credentials.set('ccgw_someone')
    assert.deepEqual(credentials.headers(), { authorization: 'Bearer ccgw_someone' })
    credentials.signOut()
    assert.deepEqual(credentials.get(), { key: null, required: true, signedOut: true })
    assert.deepEqual(credentials.headers(), {})
    // The 401s that follow keep it a sign-out (the prompt reports no refusal).
    credentials.refused()
    assert.equal(credentials.get().signedOut, true)
    // The next key is a new sign-in: refused, it is a refusal.
    credentials.set('ccgw_wrong')
    credentials.refused()
    assert.deepEqual(credentials.get(), { key: null, required: true, signedOut: undefined })
    assert.deepEqual(seen, [false, true, false, true])
    stop()
  })
})

describe('a 401 to an earlier key', () => {
  test('a refusal of the requests sent before the key was typed keeps the key; one to the key forgets it', async () => {
    credentials.signOut()
    const answers: Array<(response: Response) => void> = []
    const client = createApiClient({
      fetch: () => new Promise<Response>((resolve) => answers.push(resolve)),
      headers: credentials.headers,
      onUnauthorized: credentials.refused,
    })
    const refusal = () =>
      new Response('{"error":{"code":"unauthorized","message":"no key"}}', { status: 401 })
    // The page's first request goes out without a key; the user types one before its 401 comes back.
    const early = client.get('/me').catch((error: unknown) => error)
    credentials.set('ccgw_right')
    answers.shift()?.(refusal())
    assert.equal(((await early) as ApiError).status, 401)
    assert.deepEqual(credentials.get(), { key: 'ccgw_right', required: false })
    // A 401 to the key itself is a refusal.
    const late = client.get('/me').catch((error: unknown) => error)
    answers.shift()?.(refusal())
    await late
    assert.deepEqual(credentials.get(), { key: null, required: true, signedOut: undefined })
  })
})
