/**
 * Forwarding to a session's owner (src/cluster/forward.ts) between two Fastify servers on 127.0.0.1, each
 * wired as a replica would be: a preHandler hook that forwards the requests of sessions the other owns.
 * A JSON POST arrives intact with the replicas' secret and the x-forwarded-* headers; an SSE answer is
 * streamed (its first event arrives before the owner ends it) and a client hanging up reaches the owner;
 * replicas disagreeing about an owner get 503 instead of a loop; a dead owner is an `owner_unreachable`
 * error that may be served here instead once the session is taken over, and a streamed body survives it;
 * an owner that hangs or drops the connection after receiving the request is never served around. WebSocket
 * upgrades are forwarded byte for byte (frames, close codes both ways, the owner's refusals, a dead owner).
 */
import assert from 'node:assert/strict'
import { createServer, type Socket } from 'node:net'
import { after, before, describe, test } from 'node:test'
import { inspect } from 'node:util'
import websocket from '@fastify/websocket'
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify'
import WebSocket from 'ws'
import type { OwnerUnreachableError } from '../../src/cluster/errors.js'
import { type ForwardingOptions, forwarding, forwardToOwner } from '../../src/cluster/forward.js'
import { Replica } from '../../src/cluster/replica.js'
import { parseSse } from '../support/sse.js'
import { waitUntil } from '../support/wait.js'

const SECRET = 'the-replicas-shared-secret'

interface Node {
  app: FastifyInstance
  url: string
  replica: Replica
  /** Who owns each session, as this replica reads the leases. */
  owners: Map<string, string>
  /** Sessions this replica takes over when their owner cannot be reached. */
  takeable: Set<string>
  /** What the owner's event stream does next: resolved by the test. */
  releaseStream: () => void
  /** Event streams whose client went away. */
  closedStreams: number
  unreachable: OwnerUnreachableError[]
  /** Close codes and reasons the owner's WebSockets got from their client. */
  socketCloses: [number, string][]
}

const sessionOf = (request: FastifyRequest) => (request.params as { id: string }).id

/** A POST of `body` as JSON. */
const postJson = (url: string, body: object) =>
  fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })

/** A JSON answer's fields. */
const fieldsOf = async (response: Response) => (await response.json()) as Record<string, unknown>

/** A replica: the session routes, behind the owner-forwarding hook. */
async function startNode(name: string, options: Partial<ForwardingOptions> = {}): Promise<Node> {
  // As the gateway does (src/observability/request-log.ts): a caller's request id is kept.
  const app = Fastify({ requestIdHeader: 'x-request-id' })
  const node = {
    app,
    owners: new Map<string, string>(),
    takeable: new Set<string>(),
    releaseStream: () => {},
    closedStreams: 0,
    unreachable: [] as OwnerUnreachableError[],
    socketCloses: [] as [number, string][],
  } as unknown as Node
  let released = new Promise<void>((resolve) => {
    node.releaseStream = resolve
  })
  // Its address is known once it listens.
  node.replica = new Replica({ id: name, advertiseUrl: null, secret: SECRET })
  await app.register(forwarding, { replica: node.replica, connectTimeoutMs: 1_000, ...options })
  await app.register(async (scope) => {
    scope.addHook(
      'preHandler',
      forwardToOwner(
        async (request) => node.owners.get(sessionOf(request)) ?? null,
        async (request, error) => {
          node.unreachable.push(error)
          return node.takeable.has(sessionOf(request))
        },
      ),
    )
    scope.post('/api/sessions/:id/messages', async (request) => ({
      servedBy: name,
      body: request.body,
      query: request.query,
      host: request.headers.host,
      forwardedBy: node.replica.forwardedBy(request.headers) ?? null,
      forwardedFor: request.headers['x-forwarded-for'] ?? null,
      forwardedHost: request.headers['x-forwarded-host'] ?? null,
      forwardedProto: request.headers['x-forwarded-proto'] ?? null,
      requestId: request.headers['x-request-id'] ?? null,
    }))
    scope.get('/api/sessions/:id/events', (request, reply) => {
      reply.hijack()
      reply.raw.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' })
      reply.raw.write(`id: 1\ndata: ${JSON.stringify({ servedBy: name, n: 1 })}\n\n`)
      request.raw.on('close', () => {
        if (!reply.raw.writableEnded) node.closedStreams++
      })
      void released.then(() => {
        reply.raw.end(`id: 2\ndata: ${JSON.stringify({ servedBy: name, n: 2 })}\n\n`)
        released = new Promise<void>((resolve) => {
          node.releaseStream = resolve
        })
      })
    })
  })
  // Forwarded before parsing: the body goes as the client sent it.
  await app.register(async (scope) => {
    scope.addHook(
      'onRequest',
      forwardToOwner(async (request) => node.owners.get(sessionOf(request)) ?? null),
    )
    scope.addContentTypeParser('application/octet-stream', { parseAs: 'buffer' }, (_request, body, done) =>
      done(null, body),
    )
    scope.post('/api/sessions/:id/uploads', async (request) => ({
      servedBy: name,
      bytes: (request.body as Buffer).length,
      forwardedBy: node.replica.forwardedBy(request.headers) ?? null,
    }))
  })
  // A session's WebSocket, forwarded before the upgrade; `?deny` is refused by its owner.
  await app.register(websocket)
  await app.register(async (scope) => {
    scope.addHook(
      'onRequest',
      forwardToOwner(
        async (request) => node.owners.get(sessionOf(request)) ?? null,
        async (request) => node.takeable.has(sessionOf(request)),
      ),
    )
    scope.get(
      '/api/sessions/:id/stream',
      {
        websocket: true,
        preHandler: async (request, reply) => {
          if ('deny' in (request.query as object))
            return reply.code(401).header('x-served-by', name).send({ error: 'denied' })
        },
      },
      (socket, request) => {
        socket.send(
          JSON.stringify({ servedBy: name, forwardedBy: node.replica.forwardedBy(request.headers) ?? null }),
        )
        socket.on('message', (data, isBinary) => {
          if (!isBinary && data.toString() === 'close-me') socket.close(4002, 'owner closes')
          else socket.send(data, { binary: isBinary })
        })
        socket.on('close', (code, reason) => node.socketCloses.push([code, reason.toString()]))
      },
    )
  })
  node.url = await app.listen({ host: '127.0.0.1', port: 0 })
  node.replica.listening(node.url)
  return node
}

/** A port nothing listens on: a replica that is gone. */
async function deadAddress(): Promise<string> {
  const app = Fastify()
  const url = await app.listen({ host: '127.0.0.1', port: 0 })
  await app.close()
  return url
}

/** Replicas `a` and `b`, started before the tests of the suite that calls it and closed after them. */
function replicaPair(): { a: Node; b: Node } {
  const nodes = {} as { a: Node; b: Node }
  before(async () => {
    nodes.a = await startNode('a')
    nodes.b = await startNode('b')
  })
  after(async () => {
    await Promise.all([nodes.a.app.close(), nodes.b.app.close()])
  })
  return nodes
}

describe('forwarding to the owner', () => {
  const nodes = replicaPair()

  test('a POST with a JSON body arrives intact at the owner, with the secret and x-forwarded-*', async () => {
    nodes.a.owners.set('s1', nodes.b.url)
    const body = {
      content: [{ type: 'text', text: 'héllo ✓ "quoted"\nline' }],
      n: 1.5,
      nested: { deep: [1, null] },
    }
    const response = await fetch(`${nodes.a.url}/api/sessions/s1/messages?after=3`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-request-id': 'req-42',
        'x-forwarded-for': '10.1.1.1',
      },
      body: JSON.stringify(body),
    })
    assert.equal(response.status, 200)
    const answer = await fieldsOf(response)
    assert.deepEqual(answer, {
      servedBy: 'b',
      body,
      query: { after: '3' },
      // The Host the client sent, so that the owner judges it as the first replica did.
      host: new URL(nodes.a.url).host,
      forwardedBy: 'a',
      forwardedFor: '10.1.1.1, 127.0.0.1',
      forwardedHost: new URL(nodes.a.url).host,
      forwardedProto: 'http',
      requestId: 'req-42',
    })
    assert.equal(response.headers.get('x-ccgw-replica-secret'), null)
  })

  test('a forged marker is not believed: the secret must match', async () => {
    nodes.a.owners.delete('s1')
    const response = await fetch(`${nodes.a.url}/api/sessions/s1/messages`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-ccgw-forwarded-by': 'b',
        'x-ccgw-replica-secret': 'not-the-shared-secret',
      },
      body: '{}',
    })
    assert.equal(response.status, 200)
    assert.deepEqual(await fieldsOf(response).then((answer) => [answer.servedBy, answer.forwardedBy]), [
      'a',
      null,
    ])
  })

  test('an SSE answer is streamed: the first event arrives before the owner ends the stream', async () => {
    nodes.a.owners.set('s2', nodes.b.url)
    const abort = new AbortController()
    const decoder = new TextDecoder()
    let text = ''
    // Buffered by the forwarding replica, the answer would come only once the owner ends it: never.
    const held = setTimeout(() => abort.abort(new Error('the first event was held back')), 5_000)
    const response = await fetch(`${nodes.a.url}/api/sessions/s2/events`, { signal: abort.signal })
    assert.equal(response.status, 200)
    assert.equal(response.headers.get('content-type'), 'text/event-stream')
    const reader = response.body!.getReader()
    while (!text.includes('\n\n')) text += decoder.decode((await reader.read()).value, { stream: true })
    clearTimeout(held)
    assert.deepEqual(parseSse(text), [{ id: '1', data: { servedBy: 'b', n: 1 } }])

    nodes.b.releaseStream()
    for (;;) {
      const { done, value } = await reader.read()
      if (done) break
      text += decoder.decode(value, { stream: true })
    }
    assert.deepEqual(
      parseSse(text).map((frame) => frame.data),
      [
        { servedBy: 'b', n: 1 },
        { servedBy: 'b', n: 2 },
      ],
    )
  })

  test('a client hanging up on a forwarded stream hangs up on the owner too', async () => {
    nodes.a.owners.set('s3', nodes.b.url)
    const closedBefore = nodes.b.closedStreams
    const abort = new AbortController()
    const response = await fetch(`${nodes.a.url}/api/sessions/s3/events`, { signal: abort.signal })
    const reader = response.body!.getReader()
    await reader.read()
    abort.abort()
    await waitUntil(() => nodes.b.closedStreams > closedBefore, 5_000, "the owner's stream to close")
  })

  test('replicas disagreeing about the owner: 503 owner_unreachable, never a loop', async () => {
    nodes.a.owners.set('s4', nodes.b.url)
    nodes.b.owners.set('s4', nodes.a.url)
    const response = await postJson(`${nodes.a.url}/api/sessions/s4/messages`, {})
    assert.equal(response.status, 503)
    const answer = await fieldsOf(response)
    assert.equal(answer.code, 'owner_unreachable')
    assert.match(String(answer.message), /sent the request back/)
    assert.equal(nodes.b.unreachable.at(-1)?.reason, 'loop')

    // A lease naming this replica's own address (its previous process) is not forwarded either.
    nodes.b.owners.set('s5', nodes.b.url)
    const own = await postJson(`${nodes.b.url}/api/sessions/s5/messages`, {})
    assert.equal(own.status, 503)
    assert.equal((await fieldsOf(own)).code, 'owner_unreachable')
  })

  test('a dead owner: owner_unreachable, not received, so it may be served here once taken over', async () => {
    const dead = await deadAddress()
    nodes.a.owners.set('s6', dead)
    const refused = await postJson(`${nodes.a.url}/api/sessions/s6/messages`, { text: 'first' })
    assert.equal(refused.status, 503)
    const answer = await fieldsOf(refused)
    assert.equal(answer.code, 'owner_unreachable')
    assert.match(String(answer.message), /is not running/)
    const error = nodes.a.unreachable.at(-1)!
    assert.deepEqual([error.reason, error.mayHaveArrived, error.address], ['refused', false, dead])

    nodes.a.takeable.add('s6')
    const served = await postJson(`${nodes.a.url}/api/sessions/s6/messages`, { text: 'second' })
    assert.equal(served.status, 200)
    assert.deepEqual(await fieldsOf(served).then((body) => [body.servedBy, body.body]), [
      'a',
      { text: 'second' },
    ])
  })

  test('a body forwarded before parsing goes as sent; a dead owner still gets the client its 503', async () => {
    nodes.a.owners.set('s7', nodes.b.url)
    const bytes = new Uint8Array(256 * 1024).map((_, i) => i % 251)
    const upload = await fetch(`${nodes.a.url}/api/sessions/s7/uploads`, {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream' },
      body: bytes,
    })
    assert.equal(upload.status, 200)
    assert.deepEqual(await upload.json(), { servedBy: 'b', bytes: bytes.length, forwardedBy: 'a' })

    nodes.a.owners.set('s7', await deadAddress())
    const refused = await fetch(`${nodes.a.url}/api/sessions/s7/uploads`, {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream' },
      body: bytes,
    })
    assert.equal(refused.status, 503)
    assert.equal((await fieldsOf(refused)).code, 'owner_unreachable')
  })
})

/** A WebSocket client's first message (or its refusal: status and body), with the socket. */
async function connect(url: string): Promise<{ socket: WebSocket; first: Record<string, unknown> }> {
  const socket = new WebSocket(url)
  const first = await new Promise<Record<string, unknown>>((resolve, reject) => {
    socket.once('message', (data) => resolve(JSON.parse(data.toString())))
    socket.once('unexpected-response', (_request, response) => {
      let body = ''
      response.on('data', (chunk: Buffer) => (body += chunk))
      response.on('end', () =>
        resolve({
          status: response.statusCode,
          servedBy: response.headers['x-served-by'],
          body: JSON.parse(body),
        }),
      )
    })
    socket.once('error', reject)
  })
  return { socket, first }
}

const nextMessage = (socket: WebSocket) =>
  new Promise<{ data: Buffer; isBinary: boolean }>((resolve) =>
    socket.once('message', (data, isBinary) => resolve({ data: data as Buffer, isBinary })),
  )

/**
 * An owner that takes requests and then hangs (`silent`: a frozen process) or drops the connection once it
 * has read the request (`drop`: a crash mid-request).
 */
async function brokenOwner(
  behaviour: 'silent' | 'drop',
): Promise<{ url: string; close: () => Promise<void> }> {
  const sockets = new Set<Socket>()
  const server = createServer((socket) => {
    sockets.add(socket)
    socket.on('data', () => {
      if (behaviour === 'drop') socket.destroy()
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  return {
    url: `http://127.0.0.1:${port}`,
    close: async () => {
      for (const socket of sockets) socket.destroy()
      await new Promise((resolve) => server.close(resolve))
    },
  }
}

describe('an owner that received the request and then failed', () => {
  test('no answer in time, or the connection dropped: may have arrived, so never served here', async () => {
    const node = await startNode('d', { headersTimeoutMs: 500 })
    const silent = await brokenOwner('silent')
    const drop = await brokenOwner('drop')
    try {
      for (const [owner, reason] of [
        [silent, 'timeout'],
        [drop, 'failed'],
      ] as const) {
        const session = `s-${reason}`
        node.owners.set(session, owner.url)
        // Were it served here, the turn would run twice.
        node.takeable.add(session)
        const response = await postJson(`${node.url}/api/sessions/${session}/messages`, { text: 'once' })
        assert.equal(response.status, 503)
        const answer = await fieldsOf(response)
        assert.equal(answer.code, 'owner_unreachable')
        assert.match(
          String(answer.message),
          reason === 'timeout' ? /did not answer in time/ : /broke during the request/,
        )
        assert.equal(node.unreachable.length, 0, 'takeOver is not even asked')
      }
    } finally {
      await Promise.all([node.app.close(), silent.close(), drop.close()])
    }
  })
})

describe('forwarding WebSockets to the owner', () => {
  const nodes = replicaPair()

  test('the upgrade reaches the owner; frames and close codes pass both ways', async () => {
    nodes.a.owners.set('w1', nodes.b.url)
    const { socket, first } = await connect(`${nodes.a.url.replace('http', 'ws')}/api/sessions/w1/stream`)
    assert.deepEqual(first, { servedBy: 'b', forwardedBy: 'a' })

    socket.send('hello')
    assert.deepEqual(await nextMessage(socket).then((m) => [m.data.toString(), m.isBinary]), ['hello', false])
    const bytes = Buffer.from([0, 1, 2, 250, 255])
    socket.send(bytes)
    assert.deepEqual(await nextMessage(socket).then((m) => [m.data, m.isBinary]), [bytes, true])

    const closed = new Promise((resolve) => socket.once('close', resolve))
    socket.close(4001, 'client leaves')
    await closed
    await waitUntil(
      () => nodes.b.socketCloses.some(([code]) => code === 4001),
      5_000,
      'the owner to see the close',
    )
    assert.deepEqual(nodes.b.socketCloses.at(-1), [4001, 'client leaves'])

    // The owner closing: the client gets its code and reason.
    const second = await connect(`${nodes.a.url.replace('http', 'ws')}/api/sessions/w1/stream`)
    const byOwner = new Promise<[number, string]>((resolve) =>
      second.socket.once('close', (code, reason) => resolve([code, reason.toString()])),
    )
    second.socket.send('close-me')
    assert.deepEqual(await byOwner, [4002, 'owner closes'])
  })

  test("the owner's refusal of the upgrade is the client's answer", async () => {
    nodes.a.owners.set('w2', nodes.b.url)
    const { first } = await connect(`${nodes.a.url.replace('http', 'ws')}/api/sessions/w2/stream?deny`)
    assert.deepEqual(first, { status: 401, servedBy: 'b', body: { error: 'denied' } })
  })

  test('a dead owner: 503 owner_unreachable, or the session served here once taken over', async () => {
    nodes.a.owners.set('w3', await deadAddress())
    const { first } = await connect(`${nodes.a.url.replace('http', 'ws')}/api/sessions/w3/stream`)
    assert.equal(first.status, 503)
    assert.equal((first.body as Record<string, unknown>).code, 'owner_unreachable')

    nodes.a.takeable.add('w3')
    const served = await connect(`${nodes.a.url.replace('http', 'ws')}/api/sessions/w3/stream`)
    assert.deepEqual(served.first, { servedBy: 'a', forwardedBy: null })
    served.socket.close()
  })

  test('replicas disagreeing about the owner: 503, never a loop', async () => {
    nodes.a.owners.set('w4', nodes.b.url)
    nodes.b.owners.set('w4', nodes.a.url)
    const { first } = await connect(`${nodes.a.url.replace('http', 'ws')}/api/sessions/w4/stream`)
    assert.equal(first.status, 503)
  })

  test('closing the forwarding replica cuts the WebSockets it forwards, so that it can close', async () => {
    const c = await startNode('c')
    c.owners.set('w5', nodes.b.url)
    const { socket } = await connect(`${c.url.replace('http', 'ws')}/api/sessions/w5/stream`)
    const closed = new Promise<number>((resolve) => socket.once('close', resolve))
    await c.app.close()
    assert.equal(await closed, 1006)
  })
})

describe('the replica identity', () => {
  test('the secret is required, compared whole, and kept out of logs', () => {
    assert.throws(
      () => new Replica({ id: 'a', advertiseUrl: 'http://10.0.0.5:8080', secret: 'short' }),
      /cluster.secret must be set, at least 16 characters/,
    )
    const replica = new Replica({ id: 'a', advertiseUrl: 'http://10.0.0.5:8080/', secret: SECRET })
    assert.equal(replica.advertiseUrl, 'http://10.0.0.5:8080')
    assert.equal(replica.forwardedBy(replica.forwardingHeaders()), 'a')
    assert.equal(
      replica.forwardedBy({ ...replica.forwardingHeaders(), 'x-ccgw-replica-secret': `${SECRET}x` }),
      undefined,
    )
    assert.equal(replica.forwardedBy({ 'x-ccgw-forwarded-by': 'a' }), undefined)
    assert.doesNotMatch(JSON.stringify(replica), new RegExp(SECRET))
    assert.doesNotMatch(inspect(replica), new RegExp(SECRET))
  })

  test('ids and addresses are checked', () => {
    assert.match(new Replica({ id: null, advertiseUrl: 'http://h:1', secret: SECRET }).id, /-\d+$/)
    assert.throws(
      () => new Replica({ id: 'a b', advertiseUrl: 'http://h:1', secret: SECRET }),
      /is not a name/,
    )
    assert.throws(
      () => new Replica({ id: 'a', advertiseUrl: 'http://h:1/api', secret: SECRET }),
      /must be an http\(s\) origin/,
    )
    const a = new Replica({ id: 'a', advertiseUrl: 'http://h:1', secret: SECRET })
    const b = new Replica({ id: 'a', advertiseUrl: 'http://h:1', secret: SECRET })
    assert.notEqual(a.incarnation, b.incarnation, 'a restarted replica is another incarnation')

    const unconfigured = () => new Replica({ id: 'a', advertiseUrl: null, secret: SECRET })
    const early = unconfigured()
    assert.throws(() => early.advertiseUrl, /does not listen yet/)
    early.listening('http://127.0.0.1:8080')
    assert.equal(early.advertiseUrl, 'http://127.0.0.1:8080')
    const configured = new Replica({ id: 'a', advertiseUrl: 'http://gw-1.gw:8080', secret: SECRET })
    configured.listening('http://0.0.0.0:8080')
    assert.equal(configured.advertiseUrl, 'http://gw-1.gw:8080')
    assert.throws(() => unconfigured().listening('http://0.0.0.0:8080'), /cluster.advertiseUrl must be set/)
    assert.throws(() => unconfigured().listening('http://[::]:8080'), /cluster.advertiseUrl must be set/)
  })
})
