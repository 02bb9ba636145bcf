/**
 * What deploy.test.ts, deploy-replicas.test.ts and deploy-image.test.ts check the deployment files with: the
 * part of kustomize the manifests use, the Kubernetes schemas, the environment a pod gets, the gateway's
 * configuration loader, deploy.sh with a fake kubectl, hadolint-style Dockerfile rules, the metric
 * references of a PromQL query, Kubernetes memory quantities, and the Docker build context as .dockerignore
 * selects it.
 */
import assert from 'node:assert/strict'
import { execFileSync, spawnSync } from 'node:child_process'
import {
  chmodSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { after, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { DockerfileParser } from 'dockerfile-ast'
import { StatefulSet } from 'kubernetes-models/apps/v1'
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2'
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1'
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1'
import {
  ConfigMap,
  type IContainer,
  Namespace,
  PersistentVolumeClaim,
  Secret,
  Service,
  ServiceAccount,
} from 'kubernetes-models/v1'
import picomatch from 'picomatch'
import { parse, parseAllDocuments } from 'yaml'
import { type Config, loadConfig } from '../../src/config/index.js'

export const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)))

export type Tree = { [key: string]: unknown }
const isTree = (value: unknown): value is Tree =>
  typeof value === 'object' && value !== null && !Array.isArray(value)

interface Kustomization {
  resources?: string[]
  namespace?: string
  images?: { name: string; newName?: string; newTag?: string }[]
  patches?: { path: string }[]
}
const KUSTOMIZE_FIELDS = new Set(['apiVersion', 'kind', 'resources', 'namespace', 'images', 'patches'])
const CLUSTER_SCOPED = new Set(['Namespace'])

/**
 * `kubectl kustomize dir` for the features these manifests use: resources (files and folders), strategic
 * merge patches by kind and name, images and namespace. Anything else in a kustomization.yaml is an error,
 * so that a new feature is not silently ignored here.
 */
export function kustomize(dir: string): Tree[] {
  const k = parse(readFileSync(join(dir, 'kustomization.yaml'), 'utf8')) as Kustomization
  for (const field of Object.keys(k))
    if (!KUSTOMIZE_FIELDS.has(field)) throw new Error(`${dir}: kustomize field ${field} is not rendered here`)
  const objects = (k.resources ?? []).flatMap((resource) => {
    const path = join(dir, resource)
    return statSync(path).isDirectory() ? kustomize(path) : documents(path)
  })
  for (const { path, ...rest } of k.patches ?? []) {
    if (Object.keys(rest).length > 0) throw new Error(`${dir}: only patches by path are rendered here`)
    for (const patch of documents(join(dir, path))) {
      const name = (patch.metadata as Tree).name
      const i = objects.findIndex((o) => o.kind === patch.kind && (o.metadata as Tree).name === name)
      if (i < 0) throw new Error(`${dir}: patch ${path} matches no ${patch.kind} ${name}`)
      objects[i] = merge(objects[i], patch) as Tree
    }
  }
  for (const object of objects) {
    for (const image of k.images ?? []) setImage(object, image)
    if (k.namespace && !CLUSTER_SCOPED.has(object.kind as string))
      (object.metadata as Tree).namespace = k.namespace
  }
  return objects
}

const documents = (path: string) =>
  parseAllDocuments(readFileSync(path, 'utf8'))
    .map((d) => d.toJS() as Tree | null)
    .filter((d) => d !== null)

/**
 * Strategic merge as these patches need it: maps merge key by key (null deletes), lists of named items
 * merge by name (the merge key of containers, env, volumes and volumeMounts), other lists are replaced.
 * The patches here touch no ports, whose merge key is another.
 */
function merge(base: unknown, patch: unknown): unknown {
  if (patch === null) return undefined
  if (isTree(base) && isTree(patch)) {
    const out: Tree = { ...base }
    for (const [key, value] of Object.entries(patch)) {
      const merged = merge(base[key], value)
      if (merged === undefined) delete out[key]
      else out[key] = merged
    }
    return out
  }
  const named = (list: unknown[]) => list.every((item) => isTree(item) && typeof item.name === 'string')
  if (Array.isArray(base) && Array.isArray(patch) && named(base) && named(patch)) {
    // In kustomize's order: the patch's items first, as it lists them, then the base's other items.
    const patched = (patch as Tree[]).map((item) => {
      const same = (base as Tree[]).find((b) => b.name === item.name)
      return same ? (merge(same, item) as Tree) : item
    })
    const names = new Set(patched.map((item) => item.name))
    return [...patched, ...(base as Tree[]).filter((item) => !names.has(item.name))]
  }
  return patch
}

function setImage(object: Tree, image: NonNullable<Kustomization['images']>[number]): void {
  const spec = ((object.spec as Tree | undefined)?.template as Tree | undefined)?.spec as Tree | undefined
  for (const container of [
    ...((spec?.initContainers as Tree[]) ?? []),
    ...((spec?.containers as Tree[]) ?? []),
  ]) {
    const ref = container.image as string
    const colon = ref.lastIndexOf(':')
    const [name, tag] =
      colon > ref.lastIndexOf('/') ? [ref.slice(0, colon), ref.slice(colon + 1)] : [ref, undefined]
    if (name !== image.name) continue
    const newTag = image.newTag ?? tag
    container.image = `${image.newName ?? name}${newTag ? `:${newTag}` : ''}`
  }
}

/** The schema of every kind the manifests use, by `apiVersion/kind`. */
export const KUBERNETES_MODELS: Record<string, new (data: never) => { validate(): void }> = {
  'v1/Namespace': Namespace,
  'v1/ServiceAccount': ServiceAccount,
  'v1/ConfigMap': ConfigMap,
  'v1/Secret': Secret,
  'v1/Service': Service,
  'v1/PersistentVolumeClaim': PersistentVolumeClaim,
  'apps/v1/StatefulSet': StatefulSet,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'networking.k8s.io/v1/NetworkPolicy': NetworkPolicy,
  'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler,
}

/** Why `object` is not a valid Kubernetes object of a kind the manifests use; undefined when it is. */
export function kubernetesProblem(object: Tree): string | undefined {
  const Model = KUBERNETES_MODELS[`${object.apiVersion}/${object.kind}`]
  if (!Model) return `no model for ${object.apiVersion} ${object.kind}`
  try {
    new Model(object as never).validate()
    return undefined
  } catch (error) {
    return `${object.kind} ${(object.metadata as Tree).name}: ${(error as Error).message}`
  }
}

/** The one object of `kind` (among those named `name`, when given); throws when there is none or several. */
export function findOne(objects: Tree[], kind: string, name?: string): Tree {
  const found = objects.filter(
    (o) => o.kind === kind && (name === undefined || (o.metadata as Tree).name === name),
  )
  if (found.length !== 1) throw new Error(`${found.length} objects ${kind} ${name ?? ''}, not one`)
  return found[0]!
}

/** Whether a label selector (matchLabels, or a Service's selector) selects objects labelled `labels`. */
export const selects = (
  selector: Record<string, string> | undefined,
  labels: Record<string, string> | undefined,
) =>
  selector !== undefined &&
  Object.keys(selector).length > 0 &&
  Object.entries(selector).every(([k, v]) => labels?.[k] === v)

const hasKubectl = spawnSync('kubectl', ['version', '--client'], { stdio: 'ignore' }).status === 0

/** `kubectl kustomize dir`'s objects, by kind and name. */
function kubectlKustomize(dir: string): Map<string, Tree> {
  const rendered = execFileSync('kubectl', ['kustomize', dir], { encoding: 'utf8' })
  return byKindAndName(rendered.split(/^---$/m).map((doc) => parse(doc) as Tree))
}

const byKindAndName = (objects: Tree[]) =>
  new Map(objects.map((o) => [`${o.kind}/${(o.metadata as Tree).name}`, o]))

/**
 * The test that `kubectl kustomize dir` renders what `kustomize` here did (`objects`): the check that this
 * part of kustomize is kustomize's. Skipped, saying why, where kubectl is not installed.
 */
export function testKubectlAgrees(dir: string, objects: Tree[]): void {
  test('kubectl kustomize renders the same objects', { skip: !hasKubectl && 'kubectl not on PATH' }, () => {
    assert.deepEqual(byKindAndName(objects), kubectlKustomize(dir))
  })
}

/** The gateway's configuration as it loads `text` (a config file) with `env` on top: throws if invalid. */
export function gatewayConfig(text: string, env: NodeJS.ProcessEnv = {}): Config {
  const dir = mkdtempSync(join(tmpdir(), 'ccgw-deploy-config-'))
  try {
    writeFileSync(join(dir, 'ccgw.config.yaml'), text)
    return loadConfig({ argv: { configFile: join(dir, 'ccgw.config.yaml') }, env, cwd: dir }).config
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

/** What the pod stands for in `containerEnv`: its fields (`metadata.name`, `status.podIP`) and Secrets. */
export interface PodSources {
  fields: Record<string, string>
  secrets: Record<string, Record<string, string>>
}

/**
 * The environment Kubernetes gives `container`: values with `$(NAME)` expanded from the variables before
 * them (`$$` escaping), fieldRefs and secretKeyRefs from `sources`. A missing optional key leaves its
 * variable unset; a missing required one, or any other source, throws.
 */
export function containerEnv(container: IContainer, sources: PodSources): Record<string, string> {
  const env: Record<string, string> = {}
  for (const variable of container.env ?? []) {
    const { name, value, valueFrom } = variable
    if (value !== undefined) {
      env[name] = value.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (ref, inner?: string) =>
        ref === '$$' ? '$' : inner !== undefined && inner in env ? env[inner]! : ref,
      )
    } else if (valueFrom?.fieldRef) {
      const field = sources.fields[valueFrom.fieldRef.fieldPath]
      if (field === undefined) throw new Error(`${name}: no field ${valueFrom.fieldRef.fieldPath} given`)
      env[name] = field
    } else if (valueFrom?.secretKeyRef) {
      const { name: secret, key, optional } = valueFrom.secretKeyRef
      const found = sources.secrets[secret ?? '']?.[key]
      if (found !== undefined) env[name] = found
      else if (!optional) throw new Error(`${name}: Secret ${secret} has no key ${key}`)
    } else {
      throw new Error(`${name}: a source this check does not resolve`)
    }
  }
  return env
}

/**
 * deploy/deploy.sh run with a PATH of what it needs and no kubectl (`run`), or with a fake kubectl
 * (`fakeKubectl`) that logs its arguments and renders `rendered` for `kustomize`. Their files go in a
 * scratch folder removed after the enclosing suite.
 */
export function deployScript() {
  const scratch = mkdtempSync(join(tmpdir(), 'ccgw-deploy-sh-'))
  after(() => rmSync(scratch, { recursive: true, force: true }))
  const script = join(ROOT, 'deploy/deploy.sh')
  const bin = mkdtempSync(join(scratch, 'bin-'))
  for (const tool of ['bash', 'dirname', 'ls', 'tr', 'cat', 'grep', 'sed', 'awk'])
    symlinkSync(
      execFileSync('bash', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).trim(),
      join(bin, tool),
    )
  return {
    run: (args: string[], env: NodeJS.ProcessEnv = {}) =>
      spawnSync(script, args, { encoding: 'utf8', env: { PATH: bin, ...env } }),
    fakeKubectl(rendered: string) {
      const dir = mkdtempSync(join(scratch, 'kubectl-'))
      writeFileSync(join(dir, 'rendered.yaml'), rendered)
      const path = join(dir, 'kubectl')
      writeFileSync(
        path,
        `#!/bin/sh\necho "$*" >> "${dir}/log"\n[ "$1" = kustomize ] && cat "${dir}/rendered.yaml"\nexit 0\n`,
      )
      chmodSync(path, 0o755)
      return {
        env: { PATH: `${dir}:${bin}` },
        calls: () => readFileSync(join(dir, 'log'), 'utf8').trim().split('\n'),
      }
    },
  }
}

/**
 * hadolint's rules that apply to this image, by their ids (https://github.com/hadolint/hadolint#rules), and
 * three of the image's own: a HEALTHCHECK and an EXPOSE in the final stage. Returns the violations.
 */
export function lintDockerfile(text: string): string[] {
  const dockerfile = DockerfileParser.parse(text)
  const args = new Map(
    dockerfile.getInitialARGs().map((a) => [a.getProperty()?.getName(), a.getProperty()?.getValue()]),
  )
  const violations: string[] = []
  const stages: string[] = []
  const froms = dockerfile.getFROMs()
  for (const from of froms) {
    const image = (from.getImage() ?? '').replace(/\$\{?(\w+)\}?/g, (_, name: string) => args.get(name) ?? '')
    if (!stages.includes(image)) {
      const tag = /^[^@]*:([^/@]+)(@|$)/.exec(image)?.[1]
      if (tag === 'latest') violations.push(`DL3007: ${image}: pin a version, not latest`)
      else if (!tag && !image.includes('@')) violations.push(`DL3006: ${image}: tag the image`)
    }
    const stage = from.getBuildStage()
    if (stage) stages.push(stage)
  }
  const finalLine = froms.at(-1)?.getRange().start.line ?? 0
  let user: string | undefined
  for (const instruction of dockerfile.getInstructions()) {
    const keyword = instruction.getKeyword()
    const content = instruction.getArgumentsContent() ?? ''
    if (keyword === 'WORKDIR' && !content.startsWith('/'))
      violations.push(`DL3000: WORKDIR ${content}: use an absolute path`)
    if (keyword === 'RUN') {
      if (/\bsudo\b/.test(content)) violations.push('DL3004: do not use sudo')
      if (/(^|&&|;)\s*cd\s/.test(content)) violations.push('DL3003: use WORKDIR, not cd')
      if (/apt-get\s+(dist-)?upgrade/.test(content)) violations.push('DL3005: do not apt-get upgrade')
      const installs = /apt-get\s+install/.test(content)
      if (installs && !/apt-get\s+install\s+(.*\s)?-y\b/.test(content))
        violations.push('DL3014: apt-get install -y')
      if (installs && !content.includes('--no-install-recommends'))
        violations.push('DL3015: apt-get install --no-install-recommends')
      if (/apt-get\s+(update|install)/.test(content) && !/rm -rf \/var\/lib\/apt\/lists\/\*/.test(content))
        violations.push('DL3009: remove /var/lib/apt/lists/* in the same RUN')
    }
    if (keyword === 'ADD') violations.push(`DL3020: ADD ${content}: use COPY for files and folders`)
    if (keyword === 'COPY') {
      const from = /--from=(\S+)/.exec(instruction.getRawArgumentsContent() ?? '')?.[1]
      if (from && !stages.includes(from) && !from.includes(':'))
        violations.push(`DL3022: COPY --from=${from}: no such stage`)
    }
    if ((keyword === 'CMD' || keyword === 'ENTRYPOINT') && !content.startsWith('['))
      violations.push(`DL3025: ${keyword} ${content}: use the JSON (exec) form, so signals reach the process`)
    if (keyword === 'USER' && instruction.getRange().start.line > finalLine) user = content
  }
  if (user === undefined || user === 'root' || user === '0' || user.startsWith('0:'))
    violations.push(`DL3002: the final stage's last USER is ${user ?? 'missing'}: run as a non-root user`)
  const final = dockerfile.getInstructions().filter((i) => i.getRange().start.line > finalLine)
  if (
    !final.some(
      (i) => i.getKeyword() === 'HEALTHCHECK' && /^(--\S+\s+)*CMD\s/.test(i.getArgumentsContent() ?? ''),
    )
  )
    violations.push('healthcheck: the final stage has no HEALTHCHECK CMD')
  if (!final.some((i) => i.getKeyword() === 'EXPOSE'))
    violations.push('expose: the final stage EXPOSEs no port')
  return violations
}

const PROMQL_WORDS = new Set([
  'sum',
  'max',
  'min',
  'avg',
  'rate',
  'increase',
  'histogram_quantile',
  'by',
  'without',
])

/**
 * The metrics a dashboard query reads, each with the labels it names: its own matchers, and the query's
 * grouping labels (checked against every metric of the query: the dashboard groups single-metric queries).
 * An identifier that is neither a selector nor a known function is an error: every metric must have one.
 */
export function metricReferences(query: string): { metric: string; labels: string[] }[] {
  const refs: { metric: string; labels: string[] }[] = []
  const labelsIn = (matchers: string) =>
    [...matchers.replace(/"(?:[^"\\]|\\.)*"/g, '""').matchAll(/([a-zA-Z_]\w*)\s*(?:=~|!~|!=|=)/g)].map(
      (m) => m[1]!,
    )
  let rest = query.replace(
    /label_values\(\s*([a-zA-Z_:][\w:]*)\s*(?:\{([^}]*)\})?\s*,\s*(\w+)\s*\)/g,
    (_, metric: string, matchers = '', label: string) => {
      refs.push({ metric, labels: [...labelsIn(matchers), label] })
      return ' '
    },
  )
  rest = rest.replace(/([a-zA-Z_:][\w:]*)\s*\{([^}]*)\}/g, (_, metric: string, matchers: string) => {
    refs.push({ metric, labels: labelsIn(matchers) })
    return ' '
  })
  const grouping: string[] = []
  rest = rest
    .replace(/\b(?:by|without)\s*\(([^)]*)\)/g, (_, labels: string) => {
      grouping.push(...labels.split(',').map((l) => l.trim()))
      return ' '
    })
    .replace(/\[[^\]]*\]/g, ' ')
  for (const [identifier] of rest.matchAll(/[a-zA-Z_:][\w:]*/g))
    if (!PROMQL_WORDS.has(identifier))
      throw new Error(`${identifier} in ${query}: a metric without a selector?`)
  return refs.map((r) => ({ metric: r.metric, labels: [...r.labels, ...grouping] }))
}

const UNITS: Record<string, number> = {
  '': 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
}

/** Bytes in a Kubernetes memory quantity ("1536Mi", "2G"); NaN for anything else. */
export function quantityBytes(quantity: string | number | undefined): number {
  const m = /^(\d+(?:\.\d+)?)(k|M|G|Ki|Mi|Gi|Ti)?$/.exec(String(quantity))
  return m ? Number(m[1]) * UNITS[m[2] ?? '']! : Number.NaN
}

/**
 * The files `docker build .` sends: the repository's files (tracked, and new ones git does not ignore) that
 * .dockerignore keeps. Its patterns as Docker reads them: the last match wins, `!` keeps, and a pattern that
 * matches a folder matches everything under it.
 */
export function buildContext(): string[] {
  const rules = readFileSync(join(ROOT, '.dockerignore'), 'utf8')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith('#'))
    .map((line) => {
      const keep = line.startsWith('!')
      return { keep, matches: picomatch(line.slice(keep ? 1 : 0).replace(/^\/|\/$/g, ''), { dot: true }) }
    })
  const excluded = (file: string) => {
    let out = false
    for (const rule of rules) {
      const paths = [file]
      for (let dir = dirname(file); dir !== '.'; dir = dirname(dir)) paths.push(dir)
      if (paths.some((p) => rule.matches(p))) out = !rule.keep
    }
    return out
  }
  return execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '-z'], {
    cwd: ROOT,
    encoding: 'utf8',
  })
    .split('\0')
    .filter((file) => file && existsSync(join(ROOT, file)) && !excluded(file))
}
