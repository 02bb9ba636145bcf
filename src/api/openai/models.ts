import type { ModelInfo } from '@anthropic-ai/claude-agent-sdk'
import { type Static, Type } from '@sinclair/typebox'
import type { FastifyPluginAsync } from 'fastify'
import type { Config } from '../../config/index.js'
import type { GatewayContext } from '../../gateway.js'
import { JSON_TYPE } from '../media-types.js'
import { json, ref } from '../responses.js'
import { OpenAIError } from './errors.js'
import { openaiErrors } from './responses.js'

const ModelSchema = Type.Object(
  {
    id: Type.String(),
    object: Type.Literal('model'),
    created: Type.Integer(),
    owned_by: Type.String(),
  },
  { $id: 'Model' },
)
type Model = Static<typeof ModelSchema>

const ModelListSchema = Type.Object(
  { object: Type.Literal('list'), data: Type.Array(ref<Model>('Model')) },
  { $id: 'ModelList' },
)

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
    const objects = [...entries.keys()].map(
      (id): Model => ({ id, object: 'model', created: this.created, owned_by: OWNER }),
    )
    const list: Static<typeof ModelListSchema> = { object: 'list', data: objects }
    return {
      entries,
      listJson: JSON.stringify(list),
      byIdJson: new Map(objects.map((object) => [object.id, JSON.stringify(object)])),
    }
  }
}

export const modelRoutes: FastifyPluginAsync<{ catalogue: ModelCatalogue }> = async (app, { catalogue }) => {
  app.addSchema(ModelSchema)
  app.addSchema(ModelListSchema)
  // The bodies are serialised once per change (a string is sent as it is, the schemas only document them).
  // Plain functions, not async ones: the bodies are ready, and a promise per request is measurable here.
  app.get(
    '/models',
    {
      schema: {
        operationId: 'listModels',
        tags: ['openai'],
        summary: 'List models',
        response: {
          200: json('The model ids clients may ask for.', ref('ModelList')),
          ...openaiErrors({ 401: 'invalid_api_key.' }),
        },
      },
    },
    (_request, reply) => {
      reply.type(JSON_TYPE).send(catalogue.current.listJson)
    },
  )
  app.get<{ Params: { id: string } }>(
    '/models/:id',
    {
      schema: {
        operationId: 'getModel',
        tags: ['openai'],
        summary: 'Read a model',
        response: {
          200: json('The model.', ref('Model')),
          ...openaiErrors({ 401: 'invalid_api_key.', 404: 'model_not_found.' }),
        },
      },
    },
    (request, reply) => {
      const body = catalogue.current.byIdJson.get(request.params.id)
      if (!body) catalogue.resolve(request.params.id)
      reply.type(JSON_TYPE).send(body)
    },
  )
}
