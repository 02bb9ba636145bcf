/**
 * What a user's sessions may ask for (src/users/policy.ts): permission modes by role and record, tools
 * within `allowedTools`, MCP servers approved and granted, for a new session and for a change to one (which
 * adds nothing it did not ask for); and the Claude account their processes start
 * with (src/users/credentials.ts).
 */
import assert from 'node:assert/strict'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { type Config, loadConfig } from '../../src/config/index.js'
import { GatewayError } from '../../src/engine/errors.js'
import type { UserRecord } from '../../src/store/access.js'
import { accountOf, claudeAccounts } from '../../src/users/credentials.js'
import { AccessError } from '../../src/users/errors.js'
import { allowedDirectTool, allowedPatch, allowedSettings } from '../../src/users/policy.js'
import { OPERATOR, type Principal } from '../../src/users/principal.js'

const config = structuredClone(
  loadConfig({ env: {}, cwd: mkdtempSync(join(tmpdir(), 'ccgw-policy-')) }).config,
) as Config
config.users.mcpServers = {
  files: { type: 'stdio', command: 'node', args: ['files.js'], env: { MODE: 'ro', TOKEN: 'shared' } },
  web: { type: 'http', url: 'https://mcp.example/', headers: { 'x-team': 'a' } },
}

const record = (name: string, fields: Partial<UserRecord> = {}): UserRecord => ({
  name,
  role: 'user',
  createdAt: 0,
  updatedAt: 0,
  ...fields,
})
const users = new Map<string, UserRecord>([
  ['alice', record('alice', { mcpServers: { files: { env: { TOKEN: 'alice-token' } } } })],
  ['tess', record('tess', { allowedTools: ['Read', 'Grep'], permissionModes: ['plan'] })],
  ['ada', record('ada', { role: 'admin' })],
  ['pat', record('pat', { allowedTools: ['Read', 'Grep'], permissionModes: ['plan', 'acceptEdits'] })],
])
const directory = { user: async (name: string) => users.get(name) }
const as = (id: string): Principal => ({ id, role: users.get(id)?.role ?? 'user', keyId: null })

/** The AccessError or GatewayError `work` throws, with its code and field. */
async function refusal(work: Promise<unknown>): Promise<{ code: string; field?: string; status: number }> {
  try {
    await work
  } catch (error) {
    if (error instanceof AccessError) return { code: error.code, field: error.field, status: 403 }
    if (error instanceof GatewayError) return { code: error.code, field: error.field, status: 400 }
    throw error
  }
  assert.fail('not refused')
}

describe('allowedSettings', () => {
  test('users may not skip permissions unless their record says so; admins and the operator may', async () => {
    const bypass = { permissionMode: 'bypassPermissions' } as const
    assert.deepEqual(await refusal(allowedSettings(config, directory, as('alice'), bypass)), {
      code: 'forbidden',
      field: 'body.permission_mode',
      status: 403,
    })
    assert.equal(
      (await allowedSettings(config, directory, as('alice'), { permissionMode: 'acceptEdits' }))
        .permissionMode,
      'acceptEdits',
    )
    assert.equal(
      (await allowedSettings(config, directory, as('ada'), bypass)).permissionMode,
      'bypassPermissions',
    )
    assert.equal(
      (await allowedSettings(config, directory, OPERATOR, bypass)).permissionMode,
      'bypassPermissions',
    )
    // Tess's record allows plan only: the default mode is refused, and an absent one becomes plan.
    const tess = await refusal(allowedSettings(config, directory, as('tess'), { permissionMode: 'default' }))
    assert.equal(tess.field, 'body.permission_mode')
    assert.equal((await allowedSettings(config, directory, as('tess'), {})).permissionMode, 'plan')
    assert.equal((await allowedSettings(config, directory, as('alice'), {})).permissionMode, undefined)
  })

  test('with allowedTools, tools must be among them and absent tools become them', async () => {
    assert.deepEqual(
      (await allowedSettings(config, directory, as('tess'), { permissionMode: 'plan' })).tools,
      ['Read', 'Grep'],
    )
    assert.deepEqual((await allowedSettings(config, directory, as('tess'), { tools: ['Grep'] })).tools, [
      'Grep',
    ])
    assert.deepEqual(
      await refusal(allowedSettings(config, directory, as('tess'), { tools: ['Read', 'Bash'] })),
      {
        code: 'forbidden',
        field: 'body.tools',
        status: 403,
      },
    )
    assert.equal(
      (await allowedSettings(config, directory, as('alice'), { tools: ['Bash'] })).tools?.[0],
      'Bash',
    )
  })

  test('MCP servers: unknown ones are a 400, those not granted a 403; admins may name every approved one', async () => {
    assert.deepEqual(
      await refusal(allowedSettings(config, directory, as('alice'), { mcpServers: ['nope'] })),
      {
        code: 'invalid_request',
        field: 'body.mcp_servers',
        status: 400,
      },
    )
    assert.deepEqual(
      await refusal(allowedSettings(config, directory, as('alice'), { mcpServers: ['web'] })),
      {
        code: 'forbidden',
        field: 'body.mcp_servers',
        status: 403,
      },
    )
    assert.deepEqual(
      (await allowedSettings(config, directory, as('alice'), { mcpServers: ['files'] })).mcpServers,
      ['files'],
    )
    assert.deepEqual(
      (await allowedSettings(config, directory, as('ada'), { mcpServers: ['files', 'web'] })).mcpServers,
      ['files', 'web'],
    )
    assert.deepEqual(
      (await allowedSettings(config, directory, OPERATOR, { mcpServers: ['web'] })).mcpServers,
      ['web'],
    )
    const inherited = await refusal(
      allowedSettings(config, directory, OPERATOR, { mcpServers: ['constructor'] }),
    )
    assert.equal(inherited.status, 400, 'names are looked up as own keys only')
  })
})

describe('allowedPatch', () => {
  test('a change of other fields keeps tools and permission mode out of it (no new-session defaults)', async () => {
    // Pat's record allows neither the gateway's default mode nor every tool: a new session gets both filled.
    const created = await allowedSettings(config, directory, as('pat'), {})
    assert.equal(created.permissionMode, 'plan')
    assert.deepEqual(created.tools, ['Read', 'Grep'])
    // A change of the model alone is the model alone: the session's narrower tools and chosen mode stay.
    assert.deepEqual(await allowedPatch(config, directory, as('pat'), { model: 'claude-haiku' }), {
      model: 'claude-haiku',
    })
    assert.deepEqual(await allowedPatch(config, directory, as('pat'), { allowedTools: ['Read'] }), {
      allowedTools: ['Read'],
    })
    assert.deepEqual(await allowedPatch(config, directory, as('tess'), {}), {})
  })

  test('the fields a change has are held to the policy as a new session’s are', async () => {
    assert.deepEqual(await allowedPatch(config, directory, as('pat'), { permissionMode: 'acceptEdits' }), {
      permissionMode: 'acceptEdits',
    })
    assert.equal(
      (await refusal(allowedPatch(config, directory, as('pat'), { permissionMode: 'bypassPermissions' })))
        .field,
      'body.permission_mode',
    )
    assert.equal(
      (await refusal(allowedPatch(config, directory, as('alice'), { permissionMode: 'bypassPermissions' })))
        .field,
      'body.permission_mode',
    )
    assert.equal(
      (await refusal(allowedPatch(config, directory, as('pat'), { tools: ['Read', 'Bash'] }))).field,
      'body.tools',
    )
    // null is Claude Code's whole default set: for Pat, the tools she may use.
    assert.deepEqual(await allowedPatch(config, directory, as('pat'), { tools: null }), {
      tools: ['Read', 'Grep'],
    })
    assert.deepEqual(await allowedPatch(config, directory, as('alice'), { tools: null }), { tools: null })
    assert.equal(
      (await refusal(allowedPatch(config, directory, as('alice'), { mcpServers: ['web'] }))).status,
      403,
    )
    assert.equal(
      (await refusal(allowedPatch(config, directory, as('alice'), { mcpServers: ['nope'] }))).status,
      400,
    )
  })
})

describe('Claude accounts', () => {
  test("a user's account: their config folder, environment and granted servers with their credentials", () => {
    const claude = { configDir: '/srv/claude/alice', env: { ANTHROPIC_API_KEY: 'sk-alice' } }
    const account = accountOf({ ...users.get('alice')!, claude }, config.users.mcpServers)!
    assert.equal(account.configDir, '/srv/claude/alice')
    assert.deepEqual(account.env, { ANTHROPIC_API_KEY: 'sk-alice' })
    assert.deepEqual(Object.keys(account.mcpServers), ['files'], 'only the servers granted to her')
    assert.deepEqual((account.mcpServers.files as { env: Record<string, string> }).env, {
      MODE: 'ro',
      TOKEN: 'alice-token',
    })
    assert.ok(!account.key.includes('sk-alice'))
    // The same content gives the same key, whatever the order it is written in; other content another key.
    const reordered = accountOf(
      {
        ...users.get('alice')!,
        claude: { env: { ANTHROPIC_API_KEY: 'sk-alice' }, configDir: '/srv/claude/alice' },
      },
      config.users.mcpServers,
    )!
    assert.equal(reordered.key, account.key)
    const other = accountOf(
      { ...users.get('alice')!, claude: { env: { ANTHROPIC_API_KEY: 'sk-bob' } } },
      config.users.mcpServers,
    )!
    assert.notEqual(other.key, account.key)
  })

  test('the operator starts every approved server as configured; nothing to change is the host account', async () => {
    const accounts = claudeAccounts(() => config, directory)
    const operator = (await accounts(null))!
    assert.deepEqual(Object.keys(operator.mcpServers).sort(), ['files', 'web'])
    assert.deepEqual((operator.mcpServers.web as { headers: Record<string, string> }).headers, {
      'x-team': 'a',
    })
    assert.equal(operator.configDir, null)
    assert.equal(accountOf(record('plain'), {}), null)
    assert.equal(await accounts('gone'), null, 'a removed user runs as the host')
    assert.equal(
      (await accounts('ada'))!.key,
      operator.key,
      'an admin without credentials shares the operator’s',
    )
  })
})

describe('allowedDirectTool', () => {
  const open = { tools: null, disallowedTools: [] }
  test("a user's direct call is held to their allowedTools and the session's tools; an admin's is not", async () => {
    await allowedDirectTool(directory, as('alice'), open, 'Bash')
    await assert.rejects(allowedDirectTool(directory, as('tess'), open, 'Bash'), forbiddenName)
    await allowedDirectTool(directory, as('tess'), open, 'Read')
    await assert.rejects(
      allowedDirectTool(directory, as('alice'), { tools: ['Read'], disallowedTools: [] }, 'Bash'),
      forbiddenName,
    )
    await assert.rejects(
      allowedDirectTool(directory, as('alice'), { tools: null, disallowedTools: ['Bash'] }, 'Bash'),
      forbiddenName,
    )
    await allowedDirectTool(directory, as('ada'), { tools: ['Read'], disallowedTools: [] }, 'Bash')
    await allowedDirectTool(directory, OPERATOR, { tools: ['Read'], disallowedTools: ['Bash'] }, 'Bash')
  })
})

const forbiddenName = (error: unknown) =>
  error instanceof AccessError && error.code === 'forbidden' && error.field === 'params.name'
