/** A scratch folder per test, for the suites that write files (stores, configuration, workspaces). */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { TestContext } from 'node:test'

/** A folder of its own for the test (its name starting with `prefix`), removed after it. */
export function tempDir(t: TestContext, prefix = 'ccgw-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}
