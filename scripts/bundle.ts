/**
 * Replaces dist/cli.js, the command tsc compiled, by one file holding it and everything it imports: Node 20
 * loads one module far faster than the ~900 files the command otherwise reads, resolves and links at every
 * start (docs/PERFORMANCE.md, start-up). Run after tsc, which still builds the whole of dist/ (the library
 * entry dist/server.js, worker threads).
 *
 * Each of our modules keeps its own URL: `import.meta.url` is rewritten to the URL its tsc output has in
 * dist/, so what a module finds relative to itself (worker entries, package.json) is what the unbundled
 * build finds.
 */
import { readFile } from 'node:fs/promises'
import { relative, resolve, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build, type Plugin } from 'esbuild'

const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)))
const SRC = resolve(ROOT, 'src')
const ENTRY = resolve(SRC, 'cli.ts')
const OUTFILE = resolve(ROOT, 'dist', 'cli.js')

/** Loaded from node_modules as they are, not bundled. */
const EXTERNAL = [
  // A native addon.
  'better-sqlite3',
  // Their transports run in worker threads that load pino's own files.
  'pino',
  'pino-pretty',
  // Loaded on first use, and large: bundling them would parse them at every start. zod is shared with the SDK.
  '@anthropic-ai/claude-agent-sdk',
  'zod',
  // Bundled, it made every HTTP request of the gateway about 9 µs slower, WebSocket or not (35% fewer
  // GET /v1/models a second): CPU profiles put the time in Node's own stream code (process.nextTick) and
  // bisecting the bundle pinned it to its dependency duplexify and duplexify's own small dependencies
  // (docs/PERFORMANCE.md). Loaded from node_modules it costs nothing.
  '@fastify/websocket',
]

const ownModuleUrls: Plugin = {
  name: 'own-module-urls',
  setup(bundle) {
    bundle.onLoad({ filter: /\.ts$/ }, async ({ path }) => {
      if (!path.startsWith(`${SRC}/`)) return undefined
      const source = await readFile(path, 'utf8')
      // The bundle is dist/cli.js, where src/cli.ts compiles to: src/a/b.ts's tsc output is ./a/b.js from it.
      const builtUrl = `./${relative(SRC, path).split(sep).join('/').replace(/\.ts$/, '.js')}`
      const contents = source.replaceAll(
        'import.meta.url',
        `new URL(${JSON.stringify(builtUrl)}, import.meta.url).href`,
      )
      return { contents, loader: 'ts' }
    })
  },
}

await build({
  entryPoints: [ENTRY],
  outfile: OUTFILE,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  sourcemap: true,
  external: EXTERNAL,
  // The CommonJS packages bundled (Fastify, ajv...) call require() for Node's modules and the externals.
  // Raw text that esbuild does not rename: its names must not collide with a bundled module's top level.
  banner: {
    js: "import { createRequire as bundleCreateRequire } from 'node:module';\nconst require = bundleCreateRequire(import.meta.url);",
  },
  plugins: [ownModuleUrls],
  logLevel: 'warning',
})
