/**
 * Test-only: a scratch directory for config-loading tests. `write(ext, text)` puts one config file there (numbered,
 * so a test can write many); `fail(opts)` runs loadConfig from that directory and returns the BrokerError it threw
 * (any other throw, or none, fails the test). The directory is removed after the test file.
 */
import { afterAll } from 'bun:test'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { isBrokerError, type BrokerError } from '../lib/errors.ts'
import { loadConfig, type LoadConfigOptions } from '../config/index.ts'

export interface ConfigScratch {
  dir: string
  write(ext: string, text: string): string
  fail(opts: LoadConfigOptions): BrokerError
}

export function configScratch(prefix: string): ConfigScratch {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix))
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))
  let n = 0
  return {
    dir,
    write(ext, text) {
      const file = path.join(dir, `c${++n}.${ext}`)
      fs.writeFileSync(file, text)
      return file
    },
    fail(opts) {
      try {
        loadConfig({ cwd: dir, ...opts })
      } catch (e) {
        if (isBrokerError(e)) return e
        throw e
      }
      throw new Error('expected loadConfig to throw')
    },
  }
}
