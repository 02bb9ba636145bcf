/**
 * After `vite build`: writes a .br and a .gz beside every text file of dist/admin (src/api/admin.ts sends
 * them to clients that accept them, so nothing is compressed per request), then prints the sizes and
 * records them in dist/admin-sizes.json (read by the benchmarks). The shell, what the first load of
 * /admin fetches before any lazy chunk (index.html and the files it names), must stay within its budget:
 * past it the build fails.
 */
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { brotliCompressSync, constants, gzipSync } from 'node:zlib'

const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)))
const ADMIN = join(ROOT, 'dist', 'admin')
const SIZES = join(ROOT, 'dist', 'admin-sizes.json')
const SHELL_BUDGET_GZIP = 200 * 1024
const TEXT = /\.(?:html|js|mjs|css|svg|json|txt|map|wasm)$/

interface FileSize {
  file: string
  bytes: number
  gzip: number
  brotli: number
  shell: boolean
}

function filesUnder(folder: string): string[] {
  return readdirSync(folder, { withFileTypes: true }).flatMap((entry) => {
    const path = join(folder, entry.name)
    return entry.isDirectory() ? filesUnder(path) : [path]
  })
}

/** index.html and the scripts, styles and preloads it names (`/admin/assets/...`). */
function shellFiles(): Set<string> {
  const html = readFileSync(join(ADMIN, 'index.html'), 'utf8')
  const named = [...html.matchAll(/(?:src|href)="\/admin\/([^"]+)"/g)].map((match) => match[1]!)
  return new Set(['index.html', ...named])
}

const shell = shellFiles()
const sizes: FileSize[] = []
for (const path of filesUnder(ADMIN)) {
  if (!TEXT.test(path)) continue
  const content = readFileSync(path)
  const gzip = gzipSync(content, { level: 9 })
  const brotli = brotliCompressSync(content, {
    params: {
      [constants.BROTLI_PARAM_QUALITY]: constants.BROTLI_MAX_QUALITY,
      [constants.BROTLI_PARAM_SIZE_HINT]: content.length,
    },
  })
  writeFileSync(`${path}.gz`, gzip)
  writeFileSync(`${path}.br`, brotli)
  const file = relative(ADMIN, path)
  sizes.push({
    file,
    bytes: statSync(path).size,
    gzip: gzip.length,
    brotli: brotli.length,
    shell: shell.has(file),
  })
}

const sum = (files: FileSize[], field: 'bytes' | 'gzip' | 'brotli') =>
  files.reduce((total, each) => total + each[field], 0)
const shellSizes = sizes.filter((each) => each.shell)
const totals = {
  bytes: sum(shellSizes, 'bytes'),
  gzip: sum(shellSizes, 'gzip'),
  brotli: sum(shellSizes, 'brotli'),
}
writeFileSync(
  SIZES,
  `${JSON.stringify({ shell: totals, budgetGzip: SHELL_BUDGET_GZIP, files: sizes }, null, 2)}\n`,
)

const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KB`.padStart(10)
console.log(`admin UI (dist/admin)                  raw      gzip    brotli`)
for (const each of sizes.sort((a, b) => b.gzip - a.gzip))
  console.log(
    `${each.shell ? '*' : ' '} ${each.file.padEnd(34)}${kb(each.bytes)}${kb(each.gzip)}${kb(each.brotli)}`,
  )
console.log(
  `* shell ${' '.repeat(28)}${kb(totals.bytes)}${kb(totals.gzip)}${kb(totals.brotli)}  (budget ${kb(SHELL_BUDGET_GZIP).trim()} gzip)`,
)
if (totals.gzip > SHELL_BUDGET_GZIP) {
  console.error(
    `The admin UI's shell is ${kb(totals.gzip).trim()} gzipped, over its budget: make the new code a lazy chunk.`,
  )
  process.exitCode = 1
}
