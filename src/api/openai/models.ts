import type { ModelInfo } from '@anthropic-ai/claude-agent-sdk'
import type { FastifyPluginAsync } from 'fastify'
import type { Config } from '../../config/index.js'
import type { GatewayContext } from '../../gateway.js'
import { JSON_TYPE } from '../media-types.js'
import { OpenAIError } from './errors.js'

/** A model id clients may ask for, and the Claude Code model it runs (null: the CLI's default). */
export interface CatalogueEntry {
  id: string
  claudeModel: string | null
}

interface Catalogue {
  entries: Map<string, CatalogueEntry>
  /** The `/v1/models` body, serialised once per change. */
  listJson: string
  byIdJson: Map<string, string>
}

const OWNER = 'anthropic'

/**
 * The configured ids (`openai.models`) plus what the CLI itself reports: each of its aliases as
 * `claude-code-<alias>` and each full model id as itself. Rebuilt only when either source changes.
 */
export class ModelCatalogue {
  private built: Catalogue | null = null
  private builtFrom: [Config['openai']['models'], readonly ModelInfo[]] | null = null

  constructor(
    private readonly gateway: GatewayContext,
    /** Unix seconds shown as every model's `created`: stable for clients that cache the list. */
    private readonly created = Math.floor(gateway.startedAt / 1000),
  ) {}

  get current(): Catalogue {
    const configured = this.gateway.config.openai.models
    const reported = this.gateway.engine.models
    if (!this.built || this.builtFrom?.[0] !== configured || this.builtFrom[1] !== reported) {
      this.built = this.build(configured, reported)
      this.builtFrom = [configured, reported]
    }
    return this.built
  }

  resolve(id: string): CatalogueEntry {
    const entry = this.current.entries.get(id)
    if (!entry) {
      throw new OpenAIError(
        404,
        `The model '${id}' does not exist or you do not have access to it.`,
        'invalid_request_error',
        'model',
        'model_not_found',
      )
    }
    return entry
  }

  private build(configured: Config['openai']['models'], reported: readonly ModelInfo[]): Catalogue {
    const entries = new Map<string, CatalogueEntry>()
    for (const [id, claudeModel] of Object.entries(configured)) entries.set(id, { id, claudeModel })
    for (const model of reported) {
      const alias = model.value === 'default' ? 'claude-code' : `claude-code-${model.value}`
      if (!entries.has(alias))
        entries.set(alias, { id: alias, claudeModel: model.value === 'default' ? null : model.value })
      if (model.resolvedModel && !entries.has(model.resolvedModel)) {
        entries.set(model.resolvedModel, { id: model.resolvedModel, claudeModel: model.resolvedModel })
      }
    }
    const objects = [...entries.keys()].map((id) => ({
      id,
      object: 'model',
      created: this.created,
      owned_by: OWNER,
    }))
    return {
      entries,
      listJson: JSON.stringify({ object: 'list', data: objects }),
      byIdJson: new Map(objects.map((object) => [object.id, JSON.stringify(object)])),
    }
  }
}

export const modelRoutes: FastifyPluginAsync<{ catalogue: ModelCatalogue }> = async (app, { catalogue }) => {
  // Plain functions, not async ones: the bodies are ready, and a promise per request is measurable here.
  app.get('/models', (_request, reply) => {
    reply.type(JSON_TYPE).send(catalogue.current.listJson)
  })
  app.get<{ Params: { id: string } }>('/models/:id', (request, reply) => {
    const json = catalogue.current.byIdJson.get(request.params.id)
    if (!json) catalogue.resolve(request.params.id)
    reply.type(JSON_TYPE).send(json)
  })
}
