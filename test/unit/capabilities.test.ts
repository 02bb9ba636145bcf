/** CliCapabilities: models, agents and commands learned once from the first process, asked again only on failure. */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { AgentInfo, ModelInfo, SlashCommand } from '@anthropic-ai/claude-agent-sdk'
import { type CapabilitySource, CliCapabilities } from '../../src/engine/capabilities.js'
import { tempDir } from '../support/temp-dir.js'
import { waitUntil } from '../support/wait.js'

/** A process that reports what it is given; `models: null` fails to report them. */
function fakeRunner(cwd: string, models: ModelInfo[] | null) {
  const asked = { models: 0, agents: 0, commands: 0 }
  const runner: CapabilitySource = {
    cwd,
    supportedModels: async () => {
      asked.models++
      if (!models) throw new Error('no models')
      return models
    },
    supportedAgents: async () => {
      asked.agents++
      return [{ name: 'general-purpose', description: 'built in' } as AgentInfo]
    },
    supportedCommands: async () => {
      asked.commands++
      return [{ name: 'compact', description: 'Compact', argumentHint: '' } as SlashCommand]
    },
  }
  return { runner, asked }
}

const sonnet = { value: 'sonnet', displayName: 'Sonnet', description: '' } as ModelInfo

test('nothing is known before a process started', (t) => {
  const capabilities = new CliCapabilities(() => tempDir(t))
  assert.deepEqual(capabilities.supportedModels, [])
  assert.deepEqual(capabilities.builtinAgents, [])
  assert.equal(capabilities.cliCommands, null)
})

test('the first process is asked; later ones are not', async (t) => {
  const dir = tempDir(t)
  const capabilities = new CliCapabilities(() => dir)
  const first = fakeRunner(dir, [sonnet])
  capabilities.learnFrom(first.runner)
  await waitUntil(() => capabilities.supportedModels.length > 0 && capabilities.cliCommands !== null)
  await waitUntil(() => capabilities.builtinAgents.length > 0)
  assert.deepEqual(capabilities.supportedModels, [sonnet])
  assert.deepEqual(
    capabilities.builtinAgents.map((agent) => agent.name),
    ['general-purpose'],
  )
  assert.deepEqual(
    capabilities.cliCommands?.map((command) => command.name),
    ['compact'],
  )
  const second = fakeRunner(dir, [])
  capabilities.learnFrom(second.runner)
  assert.deepEqual(second.asked, { models: 0, agents: 0, commands: 0 })
})

test('when the models could not be had, the next process is asked again', async (t) => {
  const dir = tempDir(t)
  const capabilities = new CliCapabilities(() => dir)
  const failing = fakeRunner(dir, null)
  capabilities.learnFrom(failing.runner)
  await new Promise((resolve) => setTimeout(resolve, 10))
  assert.deepEqual(capabilities.supportedModels, [])
  const next = fakeRunner(dir, [sonnet])
  capabilities.learnFrom(next.runner)
  assert.equal(next.asked.models, 1)
  await waitUntil(() => capabilities.supportedModels.length > 0)
})
