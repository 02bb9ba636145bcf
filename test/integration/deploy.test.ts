/**
 * The deployment files. Kubernetes: the kustomize base and example overlay, rendered here with the part of
 * kustomize they use (and compared with `kubectl kustomize` where kubectl is installed), validate against
 * the Kubernetes schemas (kubernetes-models) and agree with the gateway's configuration: probes, the drain,
 * memory per Claude Code process, volumes, selectors. The Dockerfile parses and follows hadolint-style
 * rules; the Compose file names the image's volumes; every metric and label the Grafana dashboard queries
 * exists in a running gateway's registry; deploy.sh refuses placeholders and a missing kubectl.
 * deploy-image.test.ts runs the image's steps themselves.
 */
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { DockerfileParser } from 'dockerfile-ast'
import { StatefulSet } from 'kubernetes-models/apps/v1'
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1'
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1'
import { parse } from 'yaml'
import { withOwnGateway } from '../support/harness.js'
import {
  deployScript,
  findOne,
  gatewayConfig,
  kubernetesProblem,
  kustomize,
  lintDockerfile,
  metricReferences,
  quantityBytes,
  ROOT,
  selects,
  type Tree,
  testKubectlAgrees,
} from './deploy-checks.js'

/** A Claude Code process holds about 190 MB (173 idle in docs/PERFORMANCE.md, more in turns). */
const CLI_PROCESS_BYTES = 190 * 2 ** 20
/** The gateway itself: about 100 MB idle with a spare (docs/PERFORMANCE.md), and room to work. */
const GATEWAY_BYTES = 128 * 2 ** 20

for (const overlay of ['base', 'overlays/example']) {
  describe(`deploy/k8s/${overlay}`, () => {
    const dir = join(ROOT, 'deploy/k8s', overlay)
    const objects = kustomize(dir)

    test('every object validates against the Kubernetes schemas', () => {
      assert.ok(objects.length >= 7)
      for (const object of objects) {
        assert.equal(kubernetesProblem(object), undefined)
      }
    })

    testKubectlAgrees(dir, objects)

    const sts = new StatefulSet(findOne(objects, 'StatefulSet') as never)
    const pod = sts.spec!.template.spec!
    const container = pod.containers.find((c) => c.name === 'gateway')!
    const configMap = findOne(objects, 'ConfigMap') as { data: Record<string, string> }
    const configText = configMap.data['ccgw.config.yaml']!
    const envValue = (name: string) => container.env?.find((e) => e.name === name)
    // What the pod's environment gives the gateway: the secret's keys stand in as a value.
    const config = gatewayConfig(configText, {
      CCGW_SERVER_API_KEYS: 'key-from-the-secret',
      ...Object.fromEntries(
        (container.env ?? []).flatMap((e) =>
          e.value !== undefined && e.name !== 'CCGW_CONFIG' ? [[e.name, e.value]] : [],
        ),
      ),
    })

    test('the config file is a valid gateway configuration, mounted where CCGW_CONFIG points', () => {
      assert.equal(config.server.host, '0.0.0.0')
      const mount = container.volumeMounts?.find((m) => m.name === 'config')
      const volume = pod.volumes?.find((v) => v.name === 'config')
      assert.equal(
        volume?.configMap?.name,
        (configMap as unknown as { metadata: { name: string } }).metadata.name,
      )
      assert.equal(envValue('CCGW_CONFIG')?.value, `${mount?.mountPath}/ccgw.config.yaml`)
      assert.equal(mount?.subPath, undefined, 'a folder mount, so that edits reach the pod')
    })

    test('probes: startup and liveness on /livez, readiness on /readyz, on the configured port', () => {
      const port = container.ports?.find((p) => p.name === 'http')
      assert.equal(port?.containerPort, config.server.port)
      assert.equal(container.startupProbe?.httpGet?.path, '/livez')
      assert.equal(container.livenessProbe?.httpGet?.path, '/livez')
      assert.equal(container.readinessProbe?.httpGet?.path, '/readyz')
      for (const probe of [container.startupProbe, container.livenessProbe, container.readinessProbe])
        assert.equal(probe?.httpGet?.port, 'http')
    })

    test('the grace period covers the preStop sleep and the drain', () => {
      const [sleep, seconds] = container.lifecycle?.preStop?.exec?.command ?? []
      assert.equal(sleep, 'sleep')
      const preStop = Number(seconds)
      assert.ok(preStop >= 5, 'long enough for the endpoint to leave the Service')
      const drainSeconds = config.server.drainTimeoutMs / 1000
      assert.ok(
        pod.terminationGracePeriodSeconds! >= drainSeconds + preStop,
        `terminationGracePeriodSeconds ${pod.terminationGracePeriodSeconds} < ${drainSeconds} + ${preStop}`,
      )
    })

    test('memory is sized from pool.maxRunners', () => {
      const request = quantityBytes(container.resources?.requests?.memory)
      const limit = quantityBytes(container.resources?.limits?.memory)
      const needed = config.pool.maxRunners * CLI_PROCESS_BYTES + GATEWAY_BYTES
      assert.ok(request >= needed, `request ${request} < ${config.pool.maxRunners} processes: ${needed}`)
      assert.ok(limit >= request)
    })

    test('non-root, no privilege escalation, read-only root; every path written to is a volume', () => {
      assert.equal(pod.securityContext?.runAsNonRoot, true)
      assert.ok((pod.securityContext?.runAsUser ?? 0) > 0)
      assert.equal(container.securityContext?.allowPrivilegeEscalation, false)
      assert.equal(container.securityContext?.readOnlyRootFilesystem, true)
      assert.deepEqual(container.securityContext?.capabilities?.drop, ['ALL'])
      const writable = (container.volumeMounts ?? []).filter((m) => !m.readOnly).map((m) => m.mountPath)
      const claimed = new Set(sts.spec!.volumeClaimTemplates?.map((t) => t.metadata?.name))
      for (const path of [
        config.store.dataDir,
        config.claude.defaultWorkspace,
        '/home/gateway/.claude',
        '/tmp',
      ])
        assert.ok(
          writable.some((m) => path === m || path?.startsWith(`${m}/`)),
          `${path} is on a writable volume`,
        )
      for (const name of ['data', 'claude-config', 'workspace']) assert.ok(claimed.has(name), `${name} claim`)
    })

    test('Service, PodDisruptionBudget and NetworkPolicy select the pods; the Secret holds what env needs', () => {
      const labels = sts.spec!.template.metadata?.labels
      const services = objects.filter((o) => o.kind === 'Service') as {
        spec: { selector: Record<string, string> }
      }[]
      assert.ok(services.length >= 1)
      for (const service of services) assert.ok(selects(service.spec.selector, labels))
      const governing = services.find(
        (s) => (s as unknown as { metadata: { name: string } }).metadata.name === sts.spec!.serviceName,
      )
      assert.ok(governing, 'the StatefulSet names an existing Service')
      const pdb = new PodDisruptionBudget(findOne(objects, 'PodDisruptionBudget') as never)
      assert.ok(selects(pdb.spec?.selector?.matchLabels, labels))
      assert.equal(pdb.spec?.maxUnavailable, 1)
      const policy = new NetworkPolicy(findOne(objects, 'NetworkPolicy') as never)
      assert.ok(selects(policy.spec?.podSelector.matchLabels, labels))
      assert.deepEqual(policy.spec?.policyTypes, ['Ingress', 'Egress'])
      assert.ok(policy.spec?.ingress?.every((rule) => rule.ports?.every((p) => p.port === 'http')))

      const secret = findOne(objects, 'Secret') as { stringData: Record<string, string> }
      for (const e of container.env ?? []) {
        const ref = e.valueFrom?.secretKeyRef
        if (ref && !ref.optional) assert.ok(secret.stringData[ref.key], `Secret key ${ref.key}`)
      }
      for (const value of Object.values(secret.stringData)) assert.match(value, /REPLACE-ME/)
    })

    if (overlay !== 'base')
      test('the overlay sets the namespace and the image', () => {
        for (const object of objects.filter((o) => o.kind !== 'Namespace'))
          assert.equal((object.metadata as Tree).namespace, 'claude-code-gateway', `${object.kind}`)
        assert.equal(container.image, 'registry.example.com/claude-code-gateway:0.1.0')
      })
  })
}

describe('Dockerfile', () => {
  const text = readFileSync(join(ROOT, 'Dockerfile'), 'utf8')

  test('follows the hadolint-style rules', () => {
    assert.deepEqual(lintDockerfile(text), [])
  })

  test('the rules catch what they are for', () => {
    const bad = [
      'FROM node:latest',
      'FROM debian',
      'WORKDIR app',
      'RUN apt-get update',
      'RUN apt-get install curl',
      'ADD src /app',
      'USER root',
      'CMD node dist/cli.js',
    ].join('\n')
    assert.deepEqual(
      lintDockerfile(bad).map((v) => v.split(':')[0]),
      [
        'DL3007',
        'DL3006',
        'DL3000',
        'DL3009',
        'DL3014',
        'DL3015',
        'DL3009',
        'DL3020',
        'DL3025',
        'DL3002',
        'healthcheck',
        'expose',
      ],
    )
  })

  test('runtime: production dependencies, built output, tini, the image config, volumes', () => {
    const dockerfile = DockerfileParser.parse(text)
    const runtimeLine = dockerfile.getFROMs().at(-1)!.getRange().start.line
    const runtime = dockerfile.getInstructions().filter((i) => i.getRange().start.line > runtimeLine)
    const content = (keyword: string) =>
      runtime.filter((i) => i.getKeyword() === keyword).map((i) => i.getArgumentsContent() ?? '')
    assert.ok(content('RUN').some((r) => /npm ci --omit=dev --ignore-scripts/.test(r)))
    assert.ok(content('COPY').some((c) => /^\/app\/dist \.\/dist$/.test(c)))
    assert.ok(content('COPY').some((c) => /better_sqlite3\.node/.test(c)))
    assert.match(content('ENTRYPOINT')[0]!, /^\["\/usr\/bin\/tini", "--"/)
    assert.match(content('HEALTHCHECK')[0]!, /\/livez/)

    const config = gatewayConfig(readFileSync(join(ROOT, 'deploy/docker/ccgw.config.yaml'), 'utf8'), {
      CCGW_SERVER_API_KEYS: 'key',
    })
    assert.deepEqual(content('EXPOSE'), [String(config.server.port)])
    const volumes = JSON.parse(content('VOLUME')[0]!) as string[]
    for (const path of [config.store.dataDir, config.claude.defaultWorkspace, '/home/gateway/.claude'])
      assert.ok(volumes.includes(path!), `${path} is a VOLUME`)
    assert.match(content('ENV').join(' '), /CLAUDE_CONFIG_DIR=\/home\/gateway\/\.claude/)
  })
})

test('docker-compose.yml: the image, its volumes, a secret for the keys, healthcheck, grace for the drain', () => {
  const compose = parse(readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8')) as {
    services: Record<string, Tree & { environment: Record<string, string>; volumes: string[] }>
    volumes: Record<string, unknown>
    secrets: Record<string, { file: string }>
  }
  const gateway = compose.services.gateway!
  const mounts = new Map(gateway.volumes.map((v) => v.split(':') as [string, string]))
  assert.deepEqual([...mounts.values()].sort(), [
    '/home/gateway/.claude',
    '/var/lib/claude-code-gateway',
    '/workspace',
  ])
  for (const name of mounts.keys()) assert.ok(name in compose.volumes, `volume ${name} declared`)
  assert.deepEqual(gateway.secrets, ['ccgw_api_keys'])
  assert.ok(compose.secrets.ccgw_api_keys?.file)
  assert.match(JSON.stringify(gateway.healthcheck), /\/livez/)
  const config = gatewayConfig('{}', { CCGW_SERVER_API_KEYS: 'key', ...gateway.environment })
  const grace = /^(\d+)s$/.exec(String(gateway.stop_grace_period))
  assert.ok(
    grace && Number(grace[1]) >= config.server.drainTimeoutMs / 1000,
    'stop_grace_period >= the drain',
  )
})

test('the Grafana dashboard queries only metrics and labels the gateway exports', async () => {
  const dashboard = JSON.parse(
    readFileSync(join(ROOT, 'deploy/grafana/claude-code-gateway.json'), 'utf8'),
  ) as {
    templating: { list: { name: string; type: string; query: string | { query: string } }[] }
    panels: { type: string; datasource?: { uid: string }; targets?: { expr: string }[] }[]
  }
  const variable = dashboard.templating.list.find((v) => v.type === 'datasource')
  assert.equal(variable?.query, 'prometheus')
  const panels = dashboard.panels.filter((p) => p.type !== 'row')
  for (const panel of panels) assert.equal(panel.datasource?.uid, `\${${variable!.name}}`)
  const queries = [
    ...panels.flatMap((p) => p.targets ?? []).map((t) => t.expr),
    ...dashboard.templating.list.flatMap((v) => (typeof v.query === 'object' ? [v.query.query] : [])),
  ]
  const text = queries.join('\n')
  for (const wanted of [
    'gateway_http_request_duration_seconds_bucket',
    'gen_ai_server_time_to_first_token_seconds_bucket',
    'gateway_added_time_seconds_bucket',
    'gateway_turns_total',
    'gateway_errors_total',
    'gateway_runners{',
    'gateway_queue_depth',
    'gateway_sessions',
    'gen_ai_client_token_usage_sum',
    'gateway_cost_usd_total',
    'process_resident_memory_bytes',
    'process_cpu_seconds_total',
  ])
    assert.ok(text.includes(wanted), `the dashboard shows ${wanted}`)

  await withOwnGateway({ pool: { warmSpares: 0 } }, async (gateway) => {
    const exposition = await (await fetch(`${gateway.url}/metrics`)).text()
    const types = new Map([...exposition.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => [m[1]!, m[2]!]))
    const labelsOf = (name: string) => {
      const metric = gateway.context.metrics.registry.getSingleMetric(name) as unknown as {
        labelNames?: string[]
      }
      return [...(metric.labelNames ?? []), 'job', 'instance']
    }
    for (const query of queries)
      for (const { metric, labels } of metricReferences(query)) {
        const histogram = /^(.*)_(bucket|sum|count)$/.exec(metric)
        const name = histogram && types.get(histogram[1]!) === 'histogram' ? histogram[1]! : metric
        assert.ok(types.has(name), `${metric} (in ${query}) is not in /metrics`)
        const known = [...labelsOf(name), ...(histogram?.[2] === 'bucket' ? ['le'] : [])]
        for (const label of labels)
          assert.ok(known.includes(label), `${metric} has no label ${label} (in ${query})`)
      }
  })
})

describe('deploy/deploy.sh', () => {
  // A PATH with what the script needs and no kubectl (run), or a fake kubectl that logs its arguments.
  const { run, fakeKubectl } = deployScript()

  test('-h prints the usage', () => {
    const result = run(['-h'])
    assert.equal(result.status, 0, result.stderr)
    assert.match(result.stdout, /^Usage: deploy\/deploy\.sh .*OVERLAY/)
  })

  test('fails clearly without kubectl, or without an overlay', () => {
    const missing = run(['example'])
    assert.equal(missing.status, 1)
    assert.match(missing.stderr, /kubectl not found on PATH/)
    const none = run([])
    assert.equal(none.status, 1)
    assert.match(none.stderr, /name one overlay \(folders under deploy\/k8s\/overlays: example/)
    const unknown = run(['no-such-overlay'])
    assert.equal(unknown.status, 1)
    assert.match(unknown.stderr, /no overlay no-such-overlay/)
  })

  test('refuses to apply placeholders, naming the keys and never the values', () => {
    const kubectl = fakeKubectl('kind: Secret\nstringData:\n  api-keys: real-key,REPLACE-ME-second\n')
    const result = run(['example'], kubectl.env)
    assert.equal(result.status, 1)
    assert.match(result.stderr, /still has placeholders/)
    assert.match(result.stderr, /line 3: api-keys/)
    assert.doesNotMatch(result.stderr, /real-key/)
    assert.deepEqual(kubectl.calls(), [`kustomize ${join(ROOT, 'deploy/k8s/overlays/example')}`])
  })

  test('applies the overlay and waits for the rollout in its namespace', () => {
    const kubectl = fakeKubectl(
      'kind: StatefulSet\nmetadata:\n  name: claude-code-gateway\n  namespace: gw\n',
    )
    const result = run(['-t', '3m', 'example'], kubectl.env)
    assert.equal(result.status, 0, result.stderr)
    const dir = join(ROOT, 'deploy/k8s/overlays/example')
    assert.deepEqual(kubectl.calls(), [
      `kustomize ${dir}`,
      `apply -k ${dir}`,
      '--namespace gw rollout status statefulset/claude-code-gateway --timeout 3m',
    ])
  })
})
