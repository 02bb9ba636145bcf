/**
 * The replicas overlay (deploy/k8s/overlays/replicas, docs/scaling.md), rendered with the part of kustomize
 * it uses (and compared with `kubectl kustomize` where kubectl is installed): every object validates against
 * the Kubernetes schemas; each pod's environment, the Secret's placeholders filled in, loads through the
 * gateway's configuration loader into cluster mode with the pod's name and address; the headless Service,
 * the PodDisruptionBudget and the NetworkPolicies select the pods and open what forwarding, PostgreSQL and
 * Redis need; the HPA (and the optional KEDA ScaledObject and prometheus-adapter rule beside it) scales the
 * StatefulSet on a metric a running gateway exports; deploy.sh refuses the overlay while a placeholder is left.
 */
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { StatefulSet } from 'kubernetes-models/apps/v1'
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2'
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1'
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1'
import { PersistentVolumeClaim, Service } from 'kubernetes-models/v1'
import { parse, stringify } from 'yaml'
import { postgresConnectionsOf } from '../../src/cluster/index.js'
import { CONFIG_KEYS } from '../../src/config/schema.js'
import { withOwnGateway } from '../support/harness.js'
import {
  containerEnv,
  deployScript,
  findOne,
  gatewayConfig,
  kubernetesProblem,
  kustomize,
  metricReferences,
  ROOT,
  selects,
  type Tree,
  testKubectlAgrees,
} from './deploy-checks.js'

/** PostgreSQL's default max_connections: every replica's pools together must fit in it. */
const POSTGRES_MAX_CONNECTIONS = 100
/** Its default superuser_reserved_connections: those are not for the gateway. */
const POSTGRES_RESERVED_CONNECTIONS = 3
/** The store's keys for PostgreSQL, which docs/scaling.md describes with the cluster's. */
const REPLICA_STORE_KEYS = ['store.url', 'store.schema', 'store.poolSize', 'store.statementTimeoutMs']
/** Labels Prometheus adds to every series it scrapes from a pod (the adapter maps namespace and pod). */
const TARGET_LABELS = ['job', 'instance', 'namespace', 'pod']

const dir = join(ROOT, 'deploy/k8s/overlays/replicas')
const objects = kustomize(dir)
const kustomization = parse(readFileSync(join(dir, 'kustomization.yaml'), 'utf8')) as {
  namespace: string
  resources: string[]
}

const sts = new StatefulSet(findOne(objects, 'StatefulSet') as never)
const pod = sts.spec!.template.spec!
const podLabels = sts.spec!.template.metadata?.labels
const container = pod.containers.find((c) => c.name === 'gateway')!
const configText = (findOne(objects, 'ConfigMap') as { data: Record<string, string> }).data[
  'ccgw.config.yaml'
]!
const secret = findOne(objects, 'Secret') as {
  metadata: { name: string }
  stringData: Record<string, string>
}
const hpa = new HorizontalPodAutoscaler(findOne(objects, 'HorizontalPodAutoscaler') as never)
const pdb = new PodDisruptionBudget(findOne(objects, 'PodDisruptionBudget') as never)

/** The Secret as an operator fills it in: every placeholder replaced by a value naming its key. */
const filled = (stringData: Record<string, string>) =>
  Object.fromEntries(
    Object.entries(stringData).map(([key, value]) => [
      key,
      value.replace(/REPLACE-ME[\w-]*/g, `${key}-value`),
    ]),
  )

/** The gateway's configuration in replica `ordinal`, at `ip`, with the Secret filled in. */
function replicaConfig(ordinal: number, ip: string) {
  const env = containerEnv(container, {
    fields: { 'metadata.name': `${sts.metadata!.name}-${ordinal}`, 'status.podIP': ip },
    secrets: { [secret.metadata.name]: filled(secret.stringData) },
  })
  // The config file is given directly: CCGW_CONFIG names its path in the pod.
  delete env.CCGW_CONFIG
  return gatewayConfig(configText, env)
}
const config = replicaConfig(0, '10.42.0.7')
const gatewayPort = container.ports?.find((p) => p.name === 'http')

describe('deploy/k8s/overlays/replicas', () => {
  test('every object validates against the Kubernetes schemas, in the overlay namespace', () => {
    for (const object of objects) {
      assert.equal(kubernetesProblem(object), undefined)
      if (object.kind !== 'Namespace')
        assert.equal((object.metadata as Tree).namespace, kustomization.namespace, `${object.kind}`)
    }
    for (const kind of ['HorizontalPodAutoscaler', 'PersistentVolumeClaim', 'NetworkPolicy'])
      assert.ok(
        objects.some((o) => o.kind === kind),
        `the overlay has a ${kind}`,
      )
  })

  testKubectlAgrees(dir, objects)

  test("each pod's environment loads into cluster mode: the Secret's URLs, the pod's name and address", () => {
    const secretValues = filled(secret.stringData)
    const replicas = [0, 1, 2].map((ordinal) => {
      const ip = `10.42.0.${7 + ordinal}`
      return { ordinal, ip, config: replicaConfig(ordinal, ip) }
    })
    for (const { ordinal, ip, config } of replicas) {
      assert.equal(config.store.url, secretValues['store-url'])
      assert.equal(config.cluster.redisUrl, secretValues['redis-url'])
      assert.equal(config.cluster.secret, secretValues['cluster-secret'])
      assert.equal(config.cluster.replicaId, `claude-code-gateway-${ordinal}`)
      assert.equal(config.cluster.advertiseUrl, `http://${ip}:${config.server.port}`)
      assert.equal(gatewayPort?.containerPort, config.server.port)
    }
    assert.equal(new Set(replicas.map((r) => r.config.cluster.replicaId)).size, replicas.length)
  })

  test('the Secret holds every key the environment needs, each a placeholder until filled in', () => {
    for (const e of container.env ?? []) {
      const ref = e.valueFrom?.secretKeyRef
      if (ref && !ref.optional) assert.ok(secret.stringData[ref.key], `Secret key ${ref.key}`)
    }
    for (const key of ['store-url', 'redis-url', 'cluster-secret'])
      assert.match(secret.stringData[key] ?? '', /REPLACE-ME/, key)
    for (const value of Object.values(secret.stringData)) assert.match(value, /REPLACE-ME/)
  })

  test('a StatefulSet started in parallel, its count left to the HPA, under a headless Service', () => {
    assert.equal(sts.spec!.podManagementPolicy, 'Parallel')
    assert.equal(sts.spec!.replicas, undefined, 'kubectl apply must not reset what the HPA set')
    const governing = new Service(findOne(objects, 'Service', sts.spec!.serviceName) as never)
    assert.equal(governing.spec?.clusterIP, 'None')
    assert.ok(selects(governing.spec?.selector, podLabels))
    assert.ok(governing.spec?.ports?.some((p) => p.targetPort === gatewayPort?.name))
    for (const service of objects.filter((o) => o.kind === 'Service'))
      assert.ok(selects((service.spec as { selector: Record<string, string> }).selector, podLabels))
  })

  test('workspaces: one ReadWriteMany claim every replica mounts at claude.defaultWorkspace', () => {
    assert.equal(config.cluster.workspaces, 'shared')
    const mount = container.volumeMounts?.find((m) => m.mountPath === config.claude.defaultWorkspace)
    assert.ok(mount && !mount.readOnly, 'the default workspace is a writable mount')
    assert.ok(config.native.workspaceRoots.includes(mount.mountPath))
    const claimName = pod.volumes?.find((v) => v.name === mount.name)?.persistentVolumeClaim?.claimName
    assert.ok(claimName, 'a volume from a claim every pod shares, not a claim per pod')
    const claim = new PersistentVolumeClaim(findOne(objects, 'PersistentVolumeClaim', claimName) as never)
    assert.deepEqual(claim.spec?.accessModes, ['ReadWriteMany'])
    const templates = (sts.spec!.volumeClaimTemplates ?? []).map((t) => t.metadata?.name)
    assert.ok(!templates.includes(mount.name))
    // Every mount has its volume: a claim template or a volume, never both.
    for (const { name } of container.volumeMounts ?? []) {
      const sources = [...templates, ...(pod.volumes ?? []).map((v) => v.name)].filter((n) => n === name)
      assert.equal(sources.length, 1, `volume ${name}`)
    }
  })

  test('the PodDisruptionBudget lets one replica go at a time', () => {
    assert.ok(selects(pdb.spec?.selector?.matchLabels, podLabels))
    assert.equal(pdb.spec?.maxUnavailable, 1)
  })

  test('NetworkPolicy: replicas reach each other on the gateway port, and PostgreSQL and Redis', () => {
    const policy = new NetworkPolicy(
      findOne(objects, 'NetworkPolicy', 'claude-code-gateway-replicas') as never,
    )
    assert.ok(selects(policy.spec?.podSelector.matchLabels, podLabels))
    assert.deepEqual(policy.spec?.policyTypes, ['Ingress', 'Egress'])
    const toReplicas = (peers: { podSelector?: { matchLabels?: Record<string, string> } }[] | undefined) =>
      peers?.some((peer) => selects(peer.podSelector?.matchLabels, podLabels)) ?? false
    const onGatewayPort = (ports: { port?: number | string }[] | undefined) =>
      ports?.some((p) => p.port === gatewayPort?.name || p.port === gatewayPort?.containerPort) ?? false
    assert.ok(policy.spec?.ingress?.some((rule) => toReplicas(rule.from) && onGatewayPort(rule.ports)))
    assert.ok(policy.spec?.egress?.some((rule) => toReplicas(rule.to) && onGatewayPort(rule.ports)))
    const egressPorts = policy.spec?.egress?.flatMap((rule) => rule.ports?.map((p) => p.port) ?? []) ?? []
    for (const [url, defaultPort] of [
      [config.store.url, 5432],
      [config.cluster.redisUrl, 6379],
    ] as const)
      assert.ok(egressPorts.includes(Number(new URL(url!).port || defaultPort)), `egress to ${url}`)
  })

  test('the HPA scales the StatefulSet on busy Claude Code processes, within the database connections', () => {
    const spec = hpa.spec!
    assert.deepEqual(
      {
        apiVersion: spec.scaleTargetRef.apiVersion,
        kind: spec.scaleTargetRef.kind,
        name: spec.scaleTargetRef.name,
      },
      { apiVersion: sts.apiVersion, kind: sts.kind, name: sts.metadata!.name },
    )
    assert.ok((spec.minReplicas ?? 1) >= 2, 'several replicas')
    assert.ok(spec.maxReplicas >= (spec.minReplicas ?? 1))
    assert.equal(spec.metrics?.length, 1)
    const metric = spec.metrics![0]!
    assert.equal(metric.type, 'Pods')
    assert.equal(metric.pods?.metric.name, 'gateway_runners')
    assert.deepEqual(metric.pods?.metric.selector?.matchLabels, { state: 'busy' })
    assert.equal(metric.pods?.target.type, 'AverageValue')
    const target = Number(metric.pods?.target.averageValue)
    assert.ok(target > 0 && target < config.pool.maxRunners, `${target}: before every process is busy`)
    const perReplica = postgresConnectionsOf(config)
    assert.ok(
      perReplica * spec.maxReplicas <= POSTGRES_MAX_CONNECTIONS - POSTGRES_RESERVED_CONNECTIONS,
      `${spec.maxReplicas} replicas × ${perReplica} connections (store, transcripts, leases)`,
    )
    // Down one replica at a time, each given its grace period to drain before the next leaves.
    const down = spec.behavior?.scaleDown?.policies ?? []
    assert.ok(down.length > 0)
    for (const policy of down) {
      assert.equal(policy.type, 'Pods')
      assert.ok(policy.value <= Number(pdb.spec?.maxUnavailable))
      assert.ok(policy.periodSeconds >= pod.terminationGracePeriodSeconds!)
    }
  })

  test("KEDA's ScaledObject and the prometheus-adapter rule are optional and agree with the HPA", () => {
    assert.ok(kustomization.resources.every((r) => !r.startsWith('optional')))
    const keda = parse(readFileSync(join(dir, 'optional/keda-scaledobject.yaml'), 'utf8')) as {
      metadata: { namespace: string }
      spec: Tree & {
        scaleTargetRef: Tree
        advanced: { horizontalPodAutoscalerConfig: { behavior: unknown } }
        triggers: { type: string; metricType: string; metadata: { query: string; threshold: string } }[]
      }
    }
    const spec = hpa.spec!
    assert.equal(keda.metadata.namespace, kustomization.namespace)
    assert.deepEqual(keda.spec.scaleTargetRef, {
      apiVersion: spec.scaleTargetRef.apiVersion,
      kind: spec.scaleTargetRef.kind,
      name: spec.scaleTargetRef.name,
    })
    assert.equal(keda.spec.minReplicaCount, spec.minReplicas)
    assert.equal(keda.spec.maxReplicaCount, spec.maxReplicas)
    assert.deepEqual(
      keda.spec.advanced.horizontalPodAutoscalerConfig.behavior,
      JSON.parse(JSON.stringify(spec.behavior)),
    )
    const [trigger] = keda.spec.triggers
    assert.equal(trigger?.type, 'prometheus')
    assert.equal(trigger?.metricType, 'AverageValue')
    assert.equal(trigger?.metadata.threshold, String(spec.metrics![0]!.pods!.target.averageValue))
    assert.match(trigger!.metadata.query, /state="busy"/)
    assert.match(trigger!.metadata.query, new RegExp(`namespace="${kustomization.namespace}"`))

    const rule = adapterRule()
    assert.equal(rule.name.as, spec.metrics![0]!.pods!.metric.name)
    assert.deepEqual(rule.resources.overrides, {
      namespace: { resource: 'namespace' },
      pod: { resource: 'pod' },
    })
    assert.match(rule.metricsQuery, /<<\.LabelMatchers>>/, "the HPA's selector reaches the query")
  })

  test("the HPA's metric, the adapter's series and KEDA's query are in a running gateway's registry", async () => {
    const metric = hpa.spec!.metrics![0]!.pods!.metric
    const keda = parse(readFileSync(join(dir, 'optional/keda-scaledobject.yaml'), 'utf8')) as {
      spec: { triggers: { metadata: { query: string } }[] }
    }
    const references = [
      { metric: metric.name, labels: Object.keys(metric.selector?.matchLabels ?? {}) },
      ...metricReferences(adapterRule().seriesQuery),
      ...keda.spec.triggers.flatMap((t) => metricReferences(t.metadata.query)),
    ]
    await withOwnGateway({ pool: { warmSpares: 0 } }, async (gateway) => {
      const exposition = await (await fetch(`${gateway.url}/metrics`)).text()
      for (const { metric: name, labels } of references) {
        assert.match(exposition, new RegExp(`^# TYPE ${name} gauge$`, 'm'), `${name} is in /metrics`)
        const registered = gateway.context.metrics.registry.getSingleMetric(name) as unknown as {
          labelNames?: string[]
        }
        for (const label of labels)
          assert.ok(
            [...(registered.labelNames ?? []), ...TARGET_LABELS].includes(label),
            `${name} has no label ${label}`,
          )
      }
      for (const [label, value] of Object.entries(metric.selector?.matchLabels ?? {}))
        assert.match(exposition, new RegExp(`^${metric.name}\\{${label}="${value}"\\} `, 'm'))
    })
  })
})

function adapterRule() {
  const values = parse(readFileSync(join(dir, 'optional/prometheus-adapter.values.yaml'), 'utf8')) as {
    rules: {
      custom: {
        seriesQuery: string
        resources: { overrides: Tree }
        name: { as: string }
        metricsQuery: string
      }[]
    }
  }
  assert.equal(values.rules.custom.length, 1)
  return values.rules.custom[0]!
}

test('docs/scaling.md names every store and cluster key a replica uses, with its variable and default', () => {
  const rows = [
    ...readFileSync(join(ROOT, 'docs/scaling.md'), 'utf8').matchAll(
      /^\| `([a-z]+\.[A-Za-z]+)` +\| `(CCGW_\w+)` +\| ([^|]+)\|/gm,
    ),
  ]
  const documented = new Map(
    rows.map(([, key, env, defaultText]) => [key!, { env, defaultText: defaultText!.trim() }]),
  )
  const wanted = CONFIG_KEYS.filter(
    ({ key }) => key.startsWith('cluster.') || REPLICA_STORE_KEYS.includes(key),
  )
  for (const { key, env, schema } of wanted) {
    const row = documented.get(key)
    assert.ok(row, `${key} is documented`)
    assert.equal(row.env, env, key)
    const value = schema.default as unknown
    const shown = value === null ? /^`null`/ : value === '' ? /^empty$/ : new RegExp(`^\`${value}\``)
    assert.match(row.defaultText, shown, `${key}'s default`)
  }
  assert.equal(documented.size, wanted.length, 'no key the configuration does not have')
})

describe('deploy/deploy.sh with the replicas overlay', () => {
  const deploy = deployScript()
  const rendered = (list: Tree[]) => list.map((o) => stringify(o)).join('---\n')

  test('refuses while a placeholder is left, naming the keys and never the values', () => {
    const kubectl = deploy.fakeKubectl(rendered(objects))
    const result = deploy.run(['replicas'], kubectl.env)
    assert.equal(result.status, 1)
    assert.match(result.stderr, /still has placeholders/)
    for (const key of ['api-keys', 'store-url', 'redis-url', 'cluster-secret'])
      assert.match(result.stderr, new RegExp(`line \\d+: ${key}$`, 'm'))
    assert.doesNotMatch(result.stderr, /postgres:|redis:\/\//)
    assert.deepEqual(kubectl.calls(), [`kustomize ${dir}`])
  })

  test('applies the overlay once the Secret is filled in, and waits for the rollout in its namespace', () => {
    const ready = objects.map((o) =>
      o.kind === 'Secret' ? { ...o, stringData: filled((o as typeof secret).stringData) } : o,
    )
    const kubectl = deploy.fakeKubectl(rendered(ready))
    const result = deploy.run(['replicas'], kubectl.env)
    assert.equal(result.status, 0, result.stderr)
    assert.deepEqual(kubectl.calls(), [
      `kustomize ${dir}`,
      `apply -k ${dir}`,
      `--namespace ${kustomization.namespace} rollout status statefulset/claude-code-gateway --timeout 10m`,
    ])
  })
})
