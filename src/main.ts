#!/usr/bin/env bun
/**
 * Entry point of the `sfbroker` executable (`bun build --compile src/main.ts`) and of `bun src/main.ts` /
 * `deno run -A src/main.ts`. It only runs the program and exits with its code once stdout and stderr are flushed.
 */
import { runProgram } from './cli/program.ts'

function flush(stream: NodeJS.WriteStream): Promise<void> {
  return new Promise((resolve) => {
    if (stream.writableLength === 0) resolve()
    else stream.write('', () => resolve())
  })
}

const code = await runProgram(process.argv)
await Promise.all([flush(process.stdout), flush(process.stderr)])
process.exit(code)
