import { existsSync, readFileSync } from 'node:fs'
import { homedir } from 'node:os'
import { basename, dirname, extname, join, resolve } from 'node:path'
import type { TSchema } from '@sinclair/typebox'
import { Ajv, type DefinedError } from 'ajv'
import { parseDocument } from 'yaml'
import { keysConfigured } from '../users/keys.js'
import { CONFIG_KEYS, type Config, ConfigSchema, PATH_KEYS } from './schema.js'

export interface CliArgs {
  configFile?: string
  port?: number | string
  host?: string
}

export interface LoadOptions {
  argv?: CliArgs
  env?: NodeJS.ProcessEnv
  cwd?: string
}

export interface LoadedConfig {
  config: Config
  /** Config files read, base first. */
  files: string[]
}

export interface ConfigIssue {
  /** A file path, `env CCGW_X`, `flag --port`, ... */
  source: string
  /** Dotted key, empty when the problem is not about one key. */
  key: string
  problem: string
}

const formatIssue = ({ source, key, problem }: ConfigIssue) =>
  [source, key, problem].filter(Boolean).join(': ')

export class ConfigError extends Error {
  override name = 'ConfigError'
  readonly issues: readonly ConfigIssue[]

  constructor(issues: ConfigIssue[]) {
    super(['Invalid configuration:', ...issues.map((issue) => `  ${formatIssue(issue)}`)].join('\n'))
    this.issues = issues
  }
}

type Json = Record<string, unknown>

/** One source of values: a file, a single environment variable or a single flag. */
interface Layer {
  source: string
  /** Relative paths in this layer are resolved against it. */
  dir: string
  value: Json
}

const DISCOVERED_FILES = ['ccgw.config.yaml', 'ccgw.config.yml', 'ccgw.config.json']
const EXTENSIONS = ['.yaml', '.yml', '.json']
const SHORTCUTS = { CCGW_HOST: 'server.host', CCGW_PORT: 'server.port' } as const
const RESERVED_VARIABLES = ['CCGW_ENV', 'CCGW_CONFIG', ...Object.keys(SHORTCUTS)]
const BOOLEANS: Record<string, boolean> = {
  true: true,
  false: false,
  '1': true,
  '0': false,
  yes: true,
  no: false,
  on: true,
  off: false,
}

// Layers are validated on their own, without defaults or required keys, so every error names the
// source that caused it.
const partialSchema: unknown = JSON.parse(
  JSON.stringify(ConfigSchema, (key, value) => (key === 'required' ? undefined : value)),
)
// Compiled at every start, before anything else can run. Checking our own fixed schema against the
// meta-schema and optimising code that validates a handful of layers would double that time.
const validateLayer = new Ajv({
  allErrors: true,
  allowUnionTypes: true,
  validateSchema: false,
  code: { optimize: false },
}).compile(partialSchema as object)
const schemaByKey = new Map(CONFIG_KEYS.map((entry) => [entry.key, entry.schema]))

export function loadConfig({
  argv = {},
  env = process.env,
  cwd = process.cwd(),
}: LoadOptions = {}): LoadedConfig {
  const issues: ConfigIssue[] = []
  const layers: Layer[] = []
  const files: string[] = []
  const addLayer = (layer: Layer) => {
    if (validateLayer(layer.value)) layers.push(resolvePaths(layer))
    else issues.push(...(validateLayer.errors as DefinedError[]).map((error) => toIssue(layer.source, error)))
  }
  const addFile = (file: string, optional: boolean) => {
    const value = readConfigFile(file, optional, issues)
    if (value === undefined) return false
    files.push(file)
    addLayer({ source: file, dir: dirname(file), value })
    return true
  }
  const addKey = (source: string, key: string, raw: unknown) => {
    let value = raw
    try {
      if (typeof raw === 'string') value = coerce(raw, schemaByKey.get(key)!)
    } catch (err) {
      issues.push({ source, key, problem: (err as Error).message })
      return
    }
    const [section, name] = key.split('.') as [string, string]
    addLayer({ source, dir: cwd, value: { [section]: { [name]: value } } })
  }

  const base = findConfigFile(argv, env, cwd, issues)
  if (base && addFile(base, false) && env.CCGW_ENV) {
    if (/^[\w-]+$/.test(env.CCGW_ENV)) addFile(envFilePath(base, env.CCGW_ENV), true)
    else issues.push({ source: 'env CCGW_ENV', key: '', problem: 'must use only letters, digits, _ and -' })
  }

  for (const [name, key] of Object.entries(SHORTCUTS)) {
    if (env[name] !== undefined) addKey(`env ${name}`, key, env[name])
  }
  const known = new Map(CONFIG_KEYS.map((entry) => [entry.env, entry.key]))
  for (const [name, raw] of Object.entries(env)) {
    if (!name.startsWith('CCGW_') || RESERVED_VARIABLES.includes(name) || raw === undefined) continue
    const key = known.get(name)
    if (key) {
      addKey(`env ${name}`, key, raw)
    } else {
      const problem = `unknown variable${suggest(name, [...known.keys(), ...RESERVED_VARIABLES])}`
      issues.push({ source: `env ${name}`, key: '', problem })
    }
  }

  if (argv.host !== undefined) addKey('flag --host', 'server.host', argv.host)
  if (argv.port !== undefined) addKey('flag --port', 'server.port', argv.port)

  if (issues.length > 0) throw new ConfigError(issues)

  // Starting from the defaults keeps keys in schema order whatever order the files use. Every layer is
  // valid and merging adds no key the schema does not know, so the result needs no second validation.
  const merged = defaults()
  for (const layer of layers) merge(merged, layer.value)
  const config = resolvePaths({ source: 'defaults', dir: cwd, value: merged }).value as Config

  const sourceOf = (key: string) => layers.findLast((layer) => get(layer.value, key) !== undefined)?.source
  const exposure = exposureProblem(config)
  if (exposure) {
    issues.push({ source: sourceOf('server.host') ?? 'defaults', key: 'server.host', problem: exposure })
  }
  if (config.pool.warmSpares > config.pool.maxRunners) {
    issues.push({
      source: sourceOf('pool.warmSpares') ?? 'defaults',
      key: 'pool.warmSpares',
      problem: `must be <= pool.maxRunners (${config.pool.maxRunners})`,
    })
  }
  if (issues.length > 0) throw new ConfigError(issues)

  return deepFreeze({ config, files })
}

/** Every key at its schema default (copies: the loaded configuration is frozen, the schema must not be). */
function defaults(): Json {
  const config: Record<string, Json> = {}
  for (const { key, schema } of CONFIG_KEYS) {
    const [section, name] = key.split('.') as [string, string]
    config[section] ??= {}
    config[section][name] = structuredClone(schema.default)
  }
  return config
}

export function isLoopbackHost(host: string): boolean {
  return /^(localhost|::1|(::ffff:)?127(\.\d{1,3}){3})$/i.test(host)
}

/** Why `config` must not serve on `host` (by default its own server.host), if it must not. */
export function exposureProblem(config: Config, host = config.server.host): string | undefined {
  const { allowUnauthenticatedRemote } = config.server
  if (keysConfigured(config) || allowUnauthenticatedRemote || isLoopbackHost(host)) return undefined
  return `${host} is not a loopback address and no API key is configured (server.apiKeys, users.list); add one or set server.allowUnauthenticatedRemote to true`
}

/** `config.yaml` + `production` → `config.production.yaml` */
export function envFilePath(file: string, name: string): string {
  const ext = extname(file)
  return join(dirname(file), `${basename(file, ext)}.${name}${ext}`)
}

function findConfigFile(argv: CliArgs, env: NodeJS.ProcessEnv, cwd: string, issues: ConfigIssue[]) {
  const explicit = argv.configFile || env.CCGW_CONFIG
  if (explicit) return resolve(cwd, expandHome(explicit))
  const found = DISCOVERED_FILES.map((name) => join(cwd, name)).filter((file) => existsSync(file))
  if (found.length > 1) {
    const names = found.map((file) => basename(file)).join(', ')
    issues.push({ source: cwd, key: '', problem: `found ${names}; keep one or pass --config` })
  }
  return found[0]
}

function readConfigFile(file: string, optional: boolean, issues: ConfigIssue[]): Json | undefined {
  const ext = extname(file).toLowerCase()
  if (!EXTENSIONS.includes(ext)) {
    issues.push({ source: file, key: '', problem: `unsupported file type, use ${EXTENSIONS.join(', ')}` })
    return undefined
  }
  let text: string
  try {
    text = readFileSync(file, 'utf8').replace(/^\uFEFF/, '')
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (!(optional && code === 'ENOENT')) {
      issues.push({ source: file, key: '', problem: `cannot read file (${code ?? String(err)})` })
    }
    return undefined
  }
  const syntaxError = (line: number, column: number, message: string) =>
    issues.push({
      source: file,
      key: '',
      problem: `syntax error at line ${line}, column ${column}: ${message}`,
    })

  if (ext === '.json') {
    try {
      return JSON.parse(text) ?? {}
    } catch (err) {
      const message = (err as Error).message
      const offset = Number(/at position (\d+)/.exec(message)?.[1] ?? text.length)
      const before = text.slice(0, offset)
      const line = before.split('\n').length
      syntaxError(line, offset - before.lastIndexOf('\n'), message.replace(/ in JSON at position .*$/, ''))
      return undefined
    }
  }

  const doc = parseDocument(text)
  for (const error of doc.errors) {
    const position = error.linePos?.[0] ?? { line: 1, col: 1 }
    syntaxError(
      position.line,
      position.col,
      error.message.split('\n')[0]!.replace(/ at line \d+, column \d+:$/, ''),
    )
  }
  if (doc.errors.length > 0) return undefined
  try {
    return doc.toJS() ?? {}
  } catch (err) {
    issues.push({ source: file, key: '', problem: (err as Error).message })
    return undefined
  }
}

/** Turns a string from the environment or the command line into the type the schema wants. */
function coerce(raw: string, schema: TSchema): unknown {
  const types: unknown[] = [schema.type].flat()
  const trimmed = raw.trim()
  if (types.includes('null') && trimmed === '') return null
  if (types.includes('integer') || types.includes('number')) {
    return trimmed !== '' && Number.isFinite(Number(trimmed)) ? Number(trimmed) : raw
  }
  if (types.includes('boolean')) return BOOLEANS[trimmed.toLowerCase()] ?? raw
  if (types.includes('array')) {
    // A list of objects (users.list) is only sayable as JSON; a list of words also as `a, b, c`.
    if (trimmed.startsWith('[')) {
      try {
        return JSON.parse(trimmed)
      } catch (err) {
        throw new Error(`must be a JSON array or a comma-separated list (${(err as Error).message})`)
      }
    }
    const items = trimmed.split(',').map((item) => item.trim())
    return items.filter((item) => item !== '').map((item) => coerce(item, schema.items))
  }
  if (types.includes('object')) {
    try {
      return JSON.parse(raw)
    } catch (err) {
      throw new Error(`must be a JSON object (${(err as Error).message})`)
    }
  }
  return raw
}

/** Keys a release renamed: an old file stops the start with the new name, not only "unknown key". */
const RENAMED: Readonly<Record<string, string>> = {
  'server.shutdownGraceMs': 'server.drainTimeoutMs',
}

function toIssue(source: string, error: DefinedError): ConfigIssue {
  const path = error.instancePath
    .split('/')
    .slice(1)
    .map((part) => part.replaceAll('~1', '/').replaceAll('~0', '~'))
  let problem = error.message ?? error.keyword
  if (error.keyword === 'additionalProperties') {
    const name = error.params.additionalProperty
    const siblings = path.length === 0 ? Object.keys(ConfigSchema.properties) : knownNames(path.join('.'))
    path.push(name)
    const renamed = RENAMED[path.join('.')]
    problem = renamed ? `renamed to ${renamed}` : `unknown key${suggest(name, siblings)}`
  } else if (error.keyword === 'type') {
    problem = `must be ${[error.params.type].flat().join(' or ')}`
  } else if (error.keyword === 'enum') {
    problem = `must be one of: ${error.params.allowedValues.join(', ')}`
  }
  return { source, key: path.join('.'), problem }
}

const knownNames = (section: string) =>
  CONFIG_KEYS.filter(({ key }) => key.startsWith(`${section}.`)).map(({ key }) =>
    key.slice(section.length + 1),
  )

function suggest(name: string, candidates: readonly string[]): string {
  const normalize = (text: string) => text.toLowerCase().replace(/[-_]/g, '')
  const target = normalize(name)
  let best: string | undefined
  let bestDistance = Math.min(3, Math.ceil(target.length / 3)) + 1
  for (const candidate of candidates) {
    const d = distance(target, normalize(candidate))
    if (d < bestDistance) [best, bestDistance] = [candidate, d]
  }
  return best ? ` (did you mean ${best}?)` : ''
}

function distance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    const row = [i]
    for (let j = 1; j <= b.length; j++) {
      row.push(
        Math.min(previous[j]! + 1, row[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1)),
      )
    }
    previous = row
  }
  return previous[b.length]!
}

function resolvePaths(layer: Layer): Layer {
  for (const key of PATH_KEYS) {
    const [section, name] = key.split('.') as [string, string]
    const value = get(layer.value, key)
    const absolute = (path: string) => {
      const expanded = expandHome(path)
      // A bare command name is looked up on PATH when spawned, so it stays as it is.
      const bare = key === 'claude.cliPath' && !/[\\/]/.test(expanded)
      return bare ? expanded : resolve(layer.dir, expanded)
    }
    if (typeof value === 'string') (layer.value[section] as Json)[name] = absolute(value)
    else if (Array.isArray(value)) {
      ;(layer.value[section] as Json)[name] = value.map((item) =>
        typeof item === 'string' ? absolute(item) : item,
      )
    }
  }
  return layer
}

const expandHome = (path: string) => path.replace(/^~(?=$|[\\/])/, () => homedir())

function get(value: Json, key: string): unknown {
  const [section, name] = key.split('.') as [string, string]
  const object = value[section]
  return isObject(object) ? object[name] : undefined
}

const isObject = (value: unknown): value is Json =>
  typeof value === 'object' && value !== null && !Array.isArray(value)

/** Objects merge key by key; anything else, arrays included, replaces. */
function merge(target: Json, source: Json): Json {
  for (const [key, value] of Object.entries(source)) {
    const current = Object.hasOwn(target, key) ? target[key] : undefined
    const next = isObject(value) ? merge(isObject(current) ? current : {}, value) : value
    // defineProperty: a `__proto__` key from a file must stay a plain key.
    Object.defineProperty(target, key, { value: next, enumerable: true, writable: true, configurable: true })
  }
  return target
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value)
    for (const child of Object.values(value)) deepFreeze(child)
  }
  return value
}
