/**
 * `claude-code-gateway --print-config`: the configuration the gateway would run with (files, CCGW_*
 * variables and flags merged over the defaults) as YAML, with its secrets masked, for an operator to check
 * or to paste into a bug report.
 */
import { stringify } from 'yaml'
import type { Config } from './config/index.js'

export const MASK = '********'

/** Names of `claude.env` variables whose values are credentials (ANTHROPIC_API_KEY, AWS_SECRET_ACCESS_KEY…). */
export const SECRET_NAME = /KEY|TOKEN|SECRET|PASSW|CREDENTIAL|AUTH|COOKIE|PRIVATE/i

/**
 * The configuration with every API key, the metrics token, the replicas' secret, every secret-named
 * `claude.env` value and URL passwords (the database's and Redis's too) masked.
 */
export function maskedConfig(config: Config): Config {
  const env = Object.fromEntries(
    Object.entries(config.claude.env).map(([name, value]) => [
      name,
      SECRET_NAME.test(name) ? MASK : maskUrlPassword(value),
    ]),
  )
  return {
    ...config,
    server: { ...config.server, apiKeys: config.server.apiKeys.map(() => MASK) },
    users: { ...config.users, ...maskedUsers(config.users) },
    claude: { ...config.claude, env },
    metrics: { ...config.metrics, token: config.metrics.token ? MASK : '' },
    store: { ...config.store, url: config.store.url && maskUrlPassword(config.store.url) },
    cluster: {
      ...config.cluster,
      redisUrl: config.cluster.redisUrl && maskUrlPassword(config.cluster.redisUrl),
      secret: config.cluster.secret ? MASK : '',
    },
  }
}

/** A URL's password (a proxy's `http://user:pass@host`) masked; any other value as it is. */
export function maskUrlPassword(value: string): string {
  if (!/^[a-z][a-z\d+.-]*:\/\/[^/]*@/i.test(value)) return value
  try {
    const url = new URL(value)
    if (url.password) url.password = MASK
    return url.href
  } catch {
    return value
  }
}

export function effectiveConfigYaml(config: Config, files: readonly string[]): string {
  const from = files.length > 0 ? files.map((file) => `#   ${file}`).join('\n') : '#   (no file: defaults)'
  return `# Effective configuration (secrets masked), from:\n${from}\n# and the CCGW_* environment and flags.\n${stringify(maskedConfig(config))}`
}

/** Users' keys, Claude and MCP credentials, approved servers' secrets and the secrets key, masked. */
function maskedUsers(users: Config['users']): Pick<Config['users'], 'list' | 'mcpServers' | 'secretsKey'> {
  const values = (record: Record<string, string> | undefined) =>
    record && Object.fromEntries(Object.keys(record).map((name) => [name, MASK]))
  return {
    list: users.list.map((user) => ({
      ...user,
      keys: user.keys.map(() => MASK),
      ...(user.claude ? { claude: { ...user.claude, env: values(user.claude.env) } } : {}),
      ...(user.mcpServers
        ? {
            mcpServers: Object.fromEntries(
              Object.entries(user.mcpServers).map(([name, { env, headers }]) => [
                name,
                { env: values(env), headers: values(headers) },
              ]),
            ),
          }
        : {}),
    })),
    mcpServers: Object.fromEntries(
      Object.entries(users.mcpServers).map(([name, server]) => [
        name,
        { ...server, env: values(server.env), headers: values(server.headers) },
      ]),
    ),
    secretsKey: users.secretsKey ? MASK : '',
  }
}
