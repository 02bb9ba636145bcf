#!/usr/bin/env node
/**
 * `npm start`'s prestart: builds the gateway only when dist/ is older than what it is built from, so a start
 * with a current build takes the gateway's own start-up time, not a build's (seconds: tsc, the bundle, the
 * admin UI). Plain JavaScript on purpose: loading tsx would cost more than the check.
 *
 *   node scripts/build-if-stale.mjs            build (npm run build) if stale
 *   node scripts/build-if-stale.mjs --check    exit 1 and say why if stale, 0 if current; never builds
 *   node scripts/build-if-stale.mjs --started  (prebuild) note when this build started
 *   node scripts/build-if-stale.mjs --built    (postbuild) mark the build complete
 *   --root DIR                                 the package to look at (default: this script's package)
 *
 * A build is current when it completed (postbuild ran) and no input changed since it started: a failed or
 * interrupted build is never taken for a current one, nor one whose inputs were edited while it ran.
 */
import { spawnSync } from 'node:child_process'
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  statSync,
  writeFileSync,
} from 'node:fs'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'

/** What the build reads: folders walked whole (but their build output and dependencies), and single files. */
const INPUT_DIRS = ['src', 'web']
const INPUT_FILES = [
  'package.json',
  'package-lock.json',
  'tsconfig.json',
  'tsconfig.build.json',
  'scripts/bundle.ts',
  'scripts/compress-admin.ts',
]
const SKIPPED_DIRS = new Set(['node_modules', 'dist', '.vite'])
const STARTED = 'dist/.build-started'
const BUILT = 'dist/.build-complete'

const { values } = parseArgs({
  options: {
    check: { type: 'boolean' },
    started: { type: 'boolean' },
    built: { type: 'boolean' },
    root: { type: 'string' },
  },
  strict: true,
})
const root = resolve(values.root ?? fileURLToPath(new URL('..', import.meta.url)))

if (values.started) {
  mkdirSync(join(root, 'dist'), { recursive: true })
  writeFileSync(join(root, STARTED), `${Date.now()}\n`)
} else if (values.built) {
  if (existsSync(join(root, STARTED))) renameSync(join(root, STARTED), join(root, BUILT))
} else {
  const stale = staleness(root)
  if (values.check) {
    if (stale) console.log(`stale: ${stale}`)
    process.exit(stale ? 1 : 0)
  }
  if (stale) {
    console.error(`claude-code-gateway: building (${stale})`)
    const npm = process.env.npm_execpath
    // Under npm, its own CLI with this Node; by hand, the npm on PATH.
    const build = npm
      ? spawnSync(process.execPath, [npm, 'run', 'build', '--silent'], { cwd: root, stdio: 'inherit' })
      : spawnSync('npm', ['run', 'build', '--silent'], { cwd: root, stdio: 'inherit', shell: true })
    process.exit(build.status ?? 1)
  }
}

/** Why dist/ must be built again; null when it is current. */
function staleness(dir) {
  let builtAt
  try {
    builtAt = Number(readFileSync(join(dir, BUILT), 'utf8'))
  } catch {
    return 'no completed build in dist/'
  }
  const changed = newerInput(dir, builtAt)
  return changed ? `${changed} changed since the last build` : null
}

/** The first input modified after `time`, relative to `dir`; null if none was. */
function newerInput(dir, time) {
  for (const file of INPUT_FILES) {
    if (modifiedAfter(join(dir, file), time)) return file
  }
  for (const top of INPUT_DIRS) {
    const found = walkNewer(dir, top, time)
    if (found) return found
  }
  return null
}

/** A folder's own time changes when a file in it is added, removed or renamed: that is a change too. */
function walkNewer(dir, relative, time) {
  if (modifiedAfter(join(dir, relative), time)) return `${relative}/`
  let entries
  try {
    entries = readdirSync(join(dir, relative), { withFileTypes: true })
  } catch {
    return null
  }
  for (const entry of entries) {
    const path = `${relative}/${entry.name}`
    if (entry.isDirectory()) {
      if (SKIPPED_DIRS.has(entry.name)) continue
      const found = walkNewer(dir, path, time)
      if (found) return found
    } else if (modifiedAfter(join(dir, path), time)) return path
  }
  return null
}

function modifiedAfter(path, time) {
  try {
    return statSync(path).mtimeMs > time
  } catch {
    return false
  }
}
