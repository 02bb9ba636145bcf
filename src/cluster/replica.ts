/**
 * This replica's identity among the gateways that share one PostgreSQL: its name, the process behind the
 * name, the address the other replicas reach it at, and the secret they all share, which authenticates the
 * requests they forward to each other (src/cluster/forward.ts).
 */
import { createHash, randomUUID, timingSafeEqual } from 'node:crypto'
import { hostname } from 'node:os'

/** The replica that forwarded a request (its id): present, the request is never forwarded again. */
export const FORWARDED_BY_HEADER = 'x-ccgw-forwarded-by'
/** The shared secret, on a forwarded request: what makes FORWARDED_BY_HEADER believable. */
export const REPLICA_SECRET_HEADER = 'x-ccgw-replica-secret'

/** Short secrets can be guessed by whoever reaches a replica's port; 16 characters of a generated one are not. */
export const MIN_SECRET_LENGTH = 16

/** The pattern of `cluster.replicaId` (src/config/schema.ts). */
const REPLICA_ID = /^[A-Za-z0-9._-]{1,100}$/

export interface ReplicaOptions {
  /** `cluster.replicaId`; null: the host name and process id. */
  id: string | null
  /** `cluster.advertiseUrl`, an origin (`http://10.0.0.5:8080`); null: the address it listens on. */
  advertiseUrl: string | null
  /** `cluster.secret`, the same on every replica. */
  secret: string
}

export class Replica {
  /** The name the others see (logs, lease rows); a restarted replica may come back with the same one. */
  readonly id: string
  /**
   * This process, never reused: a lease is "ours" only when this process took it. A replica restarted under
   * the same name (a StatefulSet's pod) has lost its predecessor's Claude Code processes, so it must not
   * believe it still holds their sessions.
   */
  readonly incarnation = randomUUID()
  #advertiseUrl: string | null
  // Private fields stay out of JSON.stringify, util.inspect and so every log line.
  readonly #secret: string
  readonly #secretDigest: Buffer

  constructor({ id, advertiseUrl, secret }: ReplicaOptions) {
    this.id = id ?? defaultReplicaId()
    if (!REPLICA_ID.test(this.id))
      throw new Error(`cluster.replicaId ${JSON.stringify(this.id)} is not a name`)
    if (secret.length < MIN_SECRET_LENGTH)
      throw new Error(
        `cluster.secret must be set, at least ${MIN_SECRET_LENGTH} characters, the same on every replica: ` +
          'it authenticates the requests replicas forward to each other',
      )
    this.#advertiseUrl = advertiseUrl === null ? null : originOf(advertiseUrl, 'cluster.advertiseUrl')
    this.#secret = secret
    this.#secretDigest = sha256(secret)
  }

  /** Where the other replicas reach this one: known once it listens (unless configured). */
  get advertiseUrl(): string {
    if (this.#advertiseUrl === null)
      throw new Error('The replica does not listen yet: its address is unknown')
    return this.#advertiseUrl
  }

  /**
   * The server listens at `url` (`http://127.0.0.1:8080`): the address to advertise, unless one is
   * configured. Refused for every interface (0.0.0.0, ::), which names no machine another replica could reach.
   */
  listening(url: string): void {
    if (this.#advertiseUrl !== null) return
    const { hostname: host } = new URL(url)
    if (host === '0.0.0.0' || host === '[::]')
      throw new Error(
        `cluster.advertiseUrl must be set: the server listens on every interface (${url}), ` +
          'so the other replicas cannot tell which address reaches this one',
      )
    this.#advertiseUrl = originOf(url, 'the listening address')
  }

  /** The headers that mark a request as forwarded by this replica. */
  forwardingHeaders(): Record<string, string> {
    return { [FORWARDED_BY_HEADER]: this.id, [REPLICA_SECRET_HEADER]: this.#secret }
  }

  /**
   * The replica that forwarded a request with these headers, when it carries the shared secret; undefined
   * for a request straight from a client (or one whose marker is forged). Compared in constant time.
   */
  forwardedBy(headers: Record<string, string | string[] | undefined>): string | undefined {
    const by = headers[FORWARDED_BY_HEADER]
    const secret = headers[REPLICA_SECRET_HEADER]
    if (typeof by !== 'string' || typeof secret !== 'string') return undefined
    return timingSafeEqual(sha256(secret), this.#secretDigest) ? by : undefined
  }
}

/** The host name and the process id: unique among the processes running at once (`cluster.replicaId`). */
export function defaultReplicaId(): string {
  const host =
    hostname()
      .replace(/[^A-Za-z0-9._-]/g, '-')
      .slice(0, 80) || 'gateway'
  return `${host}-${process.pid}`
}

/** Requests are forwarded to `origin + path`: an address with a path, query or user would be misread. */
function originOf(url: string, what: string): string {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    throw new Error(`${what} ${JSON.stringify(url)} is not a URL`)
  }
  if (
    (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') ||
    parsed.username !== '' ||
    parsed.password !== '' ||
    parsed.search !== '' ||
    parsed.hash !== '' ||
    parsed.pathname !== '/'
  )
    throw new Error(`${what} ${JSON.stringify(url)} must be an http(s) origin, e.g. http://10.0.0.5:8080`)
  return parsed.origin
}

const sha256 = (value: string) => createHash('sha256').update(value).digest()
