/**
 * How to start a lock child process: in the compiled binary process.execPath is sfbroker itself, so the child
 * is `sfbroker __lock-child …` (dispatched by src/main.ts before the CLI); from source it
 * is the runtime plus lock-child-main.ts.
 */
import { fileURLToPath } from 'node:url'

export function isCompiledBinary(): boolean {
  return import.meta.url.includes('$bunfs') || import.meta.url.includes('~BUN')
}

export function lockChildArgv(args: string[]): string[] {
  if (isCompiledBinary()) return [process.execPath, '__lock-child', ...args]
  return [process.execPath, fileURLToPath(new URL('./lock-child-main.ts', import.meta.url)), ...args]
}
