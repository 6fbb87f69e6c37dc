/**
 * Test kit: scratch directories under the OS temp dir. `tempDir(prefix)` creates one and removes it (recursively)
 * after the test file; `tempDirs(prefix)` is a maker for tests that each want a fresh one, all removed after the
 * file; `makeTempDir(prefix)` hands the removal to the caller, for fixtures whose processes must be stopped before
 * their directory goes. Call `tempDir`/`tempDirs` at a file's top level (they register an `afterAll`). Tests only.
 */
import { afterAll } from 'bun:test'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'

export interface TempDir {
  readonly path: string
  /** Remove the directory and everything in it; idempotent. */
  remove(): void
}

/** A fresh directory `<tmp>/<prefix>XXXXXX`; the caller removes it. */
export function makeTempDir(prefix: string): TempDir {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix))
  return { path: dir, remove: () => fs.rmSync(dir, { recursive: true, force: true }) }
}

/** A fresh directory `<tmp>/<prefix>XXXXXX`, removed after the current test file (bun:test `afterAll`). */
export function tempDir(prefix: string): string {
  const d = makeTempDir(prefix)
  afterAll(() => d.remove())
  return d.path
}

/** A maker of fresh directories `<tmp>/<prefix>XXXXXX`, every one removed after the current test file. */
export function tempDirs(prefix: string): () => string {
  const made: TempDir[] = []
  afterAll(() => {
    for (const d of made.splice(0)) d.remove()
  })
  return () => {
    const d = makeTempDir(prefix)
    made.push(d)
    return d.path
  }
}
