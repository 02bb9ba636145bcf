import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import {
  isLoopbackAddress,
  OriginPolicy,
  parseAuthority,
  parseOrigin,
  type RequestFacts,
} from '../../src/api/origin.js'

const keyless = { apiKeys: [], allowedHosts: [], allowedOrigins: [] }
const request = (facts: Partial<RequestFacts>): RequestFacts => ({
  method: 'GET',
  host: '127.0.0.1:8080',
  origin: undefined,
  secFetchSite: undefined,
  upgrade: undefined,
  ...facts,
})
const code = (policy: OriginPolicy, facts: Partial<RequestFacts>) => policy.refusal(request(facts))?.code

describe('parseAuthority', () => {
  test('names, IPv4 and bracketed IPv6, with or without a port', () => {
    assert.deepEqual(parseAuthority('localhost'), { hostname: 'localhost', port: undefined, ip: 0 })
    assert.deepEqual(parseAuthority('127.0.0.1:8080'), { hostname: '127.0.0.1', port: '8080', ip: 4 })
    assert.deepEqual(parseAuthority('[::1]:8080'), { hostname: '::1', port: '8080', ip: 6 })
    assert.deepEqual(parseAuthority('[::1]'), { hostname: '::1', port: undefined, ip: 6 })
    assert.deepEqual(parseAuthority('[::FFFF:127.0.0.1]'), {
      hostname: '::ffff:127.0.0.1',
      port: undefined,
      ip: 6,
    })
  })

  test('case and one trailing dot do not make another name; an empty port is no port', () => {
    assert.equal(parseAuthority('LocalHost.:80')?.hostname, 'localhost')
    assert.equal(parseAuthority('Evil.Example.')?.hostname, 'evil.example')
    assert.equal(parseAuthority('localhost:')?.port, undefined)
  })

  test('malformed hosts are refused, not guessed at', () => {
    for (const bad of [
      '',
      '::1',
      '::1:8080',
      '[::1',
      '[::1]x',
      '[127.0.0.1]',
      '[localhost]',
      'localhost:80a',
      'localhost:123456',
      'a b',
      'user@localhost',
      'localhost/x',
      'localhost..',
      '.',
    ])
      assert.equal(parseAuthority(bad), undefined, bad)
  })
})

describe('parseOrigin', () => {
  test('normalises case, default ports and a trailing dot', () => {
    assert.equal(parseOrigin('HTTP://LocalHost.:80')?.origin, 'http://localhost')
    assert.equal(parseOrigin('https://app.example:443')?.origin, 'https://app.example')
    assert.equal(parseOrigin('http://app.example:443')?.origin, 'http://app.example:443')
    assert.equal(parseOrigin('http://[::1]:3000')?.origin, 'http://[::1]:3000')
    assert.equal(parseOrigin('https://app.example/')?.origin, 'https://app.example')
  })

  test('null and anything with a path or user info is no origin', () => {
    for (const bad of ['null', '', 'app.example', 'http://', 'http://a.example/x', 'http://u@a.example'])
      assert.equal(parseOrigin(bad), undefined, bad)
  })
})

test('isLoopbackAddress: 127/8 and ::1 in any spelling, names never', () => {
  const loopback = (value: string) => isLoopbackAddress(parseAuthority(value)!)
  assert.equal(loopback('127.0.0.1'), true)
  assert.equal(loopback('127.45.6.7'), true)
  assert.equal(loopback('[::1]'), true)
  assert.equal(loopback('[0:0:0:0:0:0:0:1]'), true)
  assert.equal(loopback('[::ffff:7f00:1]'), true)
  assert.equal(loopback('10.0.0.1'), false)
  assert.equal(loopback('[::2]'), false)
  assert.equal(loopback('localhost'), false)
})

describe('OriginPolicy without keys', () => {
  const policy = new OriginPolicy(keyless, '127.0.0.1')

  test('Host: loopback names and any IP address, with any port, in any case', () => {
    for (const host of [
      '127.0.0.1:8080',
      '127.0.0.1',
      'localhost:8080',
      'LOCALHOST',
      'localhost.:8080',
      '[::1]:8080',
      '[::1]',
      '192.168.1.10:8080',
      undefined,
    ])
      assert.equal(code(policy, { host }), undefined, String(host))
  })

  test('Host: any other name (a rebound one) or a malformed value is refused', () => {
    for (const host of [
      'evil.example',
      'evil.example:8080',
      'localhost.evil.example',
      '127.0.0.1.evil',
      '::1',
    ])
      assert.equal(code(policy, { host }), 'host_not_allowed', host)
  })

  test('Origin: same-origin and local pages pass, other sites and null do not', () => {
    for (const origin of [
      'http://127.0.0.1:8080',
      'http://localhost:3000',
      'http://[::1]:5173',
      'https://localhost',
      'http://127.0.0.2',
    ])
      assert.equal(code(policy, { origin }), undefined, origin)
    assert.equal(code(policy, { host: '192.168.1.10:8080', origin: 'http://192.168.1.10:8080' }), undefined)
    assert.equal(code(policy, { host: '192.168.1.10', origin: 'http://192.168.1.10:80' }), undefined)
    for (const origin of ['http://evil.example', 'http://192.168.1.50', 'null', 'file://', 'garbage'])
      assert.equal(code(policy, { origin }), 'origin_not_allowed', origin)
    // Same address, another port: another origin, not a local one.
    assert.equal(
      code(policy, { host: '192.168.1.10:8080', origin: 'http://192.168.1.10:9000' }),
      'origin_not_allowed',
    )
  })

  test('Sec-Fetch-Site: cross-site refused on state-changing methods and upgrades, not on reads', () => {
    for (const method of ['POST', 'PUT', 'PATCH', 'DELETE'])
      assert.equal(code(policy, { method, secFetchSite: 'cross-site' }), 'origin_not_allowed', method)
    assert.equal(code(policy, { secFetchSite: 'cross-site', upgrade: 'WebSocket' }), 'origin_not_allowed')
    assert.equal(code(policy, { secFetchSite: 'cross-site' }), undefined)
    for (const site of ['same-origin', 'same-site', 'none'])
      assert.equal(code(policy, { method: 'POST', secFetchSite: site }), undefined, site)
  })

  test('the bound address names the gateway; a wildcard bind names nothing', () => {
    const named = new OriginPolicy(keyless, 'gw.internal')
    assert.equal(code(named, { host: 'GW.internal.:8080', origin: 'http://gw.internal:3000' }), undefined)
    const v6 = new OriginPolicy(keyless, 'fd00::5')
    assert.equal(code(v6, { origin: 'http://[fd00::5]:3000' }), undefined)
    const wildcard = new OriginPolicy(keyless, '0.0.0.0')
    assert.equal(code(wildcard, { origin: 'http://0.0.0.0:3000' }), 'origin_not_allowed')
  })
})

describe('OriginPolicy allow-lists', () => {
  test('allowedHosts: exact names, .suffix for a domain and its subdomains, * for any', () => {
    const policy = new OriginPolicy(
      { ...keyless, allowedHosts: ['Gateway.Example.', '.corp.example'] },
      '127.0.0.1',
    )
    for (const host of ['gateway.example', 'gateway.example:443', 'corp.example', 'a.b.corp.example'])
      assert.equal(code(policy, { host }), undefined, host)
    for (const host of ['evil.example', 'xcorp.example', 'gateway.example.evil'])
      assert.equal(code(policy, { host }), 'host_not_allowed', host)
    // Their pages are this gateway's pages too (a proxy that rewrites Host).
    assert.equal(code(policy, { origin: 'https://api.corp.example' }), undefined)
    const any = new OriginPolicy({ ...keyless, allowedHosts: ['*'] }, '127.0.0.1')
    assert.equal(code(any, { host: 'whatever.example' }), undefined)
  })

  test('allowedOrigins: listed origins pass, also cross-site; * lets every page in', () => {
    const policy = new OriginPolicy({ ...keyless, allowedOrigins: ['https://App.example/'] }, '127.0.0.1')
    const site = { method: 'POST', secFetchSite: 'cross-site' }
    assert.equal(code(policy, { ...site, origin: 'https://app.example:443' }), undefined)
    assert.equal(code(policy, { ...site, origin: 'http://app.example' }), 'origin_not_allowed')
    const any = new OriginPolicy({ ...keyless, allowedOrigins: ['*'] }, '127.0.0.1')
    assert.equal(code(any, { ...site, origin: 'http://evil.example' }), undefined)
  })

  test('with keys, Host and Origin are checked only when their list is set; cross-site always', () => {
    const keyed = new OriginPolicy({ ...keyless, apiKeys: ['k'] }, '0.0.0.0')
    assert.equal(keyed.checksHost, false)
    assert.equal(keyed.checksOrigin, false)
    assert.equal(code(keyed, { host: 'gw.example', origin: 'https://ui.example' }), undefined)
    assert.equal(code(keyed, { method: 'POST', secFetchSite: 'cross-site' }), 'origin_not_allowed')

    const hosts = new OriginPolicy({ ...keyless, apiKeys: ['k'], allowedHosts: ['gw.example'] }, '0.0.0.0')
    assert.equal(code(hosts, { host: 'gw.example' }), undefined)
    assert.equal(code(hosts, { host: 'evil.example' }), 'host_not_allowed')
    assert.equal(code(hosts, { origin: 'https://ui.example' }), undefined)

    const origins = new OriginPolicy(
      { ...keyless, apiKeys: ['k'], allowedOrigins: ['https://ui.example'] },
      '0.0.0.0',
    )
    assert.equal(code(origins, { host: 'gw.example', origin: 'https://ui.example' }), undefined)
    assert.equal(code(origins, { host: 'gw.example', origin: 'https://evil.example' }), 'origin_not_allowed')
  })
})
