#!/usr/bin/env bun
/**
 * Entry point of the `sfbroker` executable (`bun build --compile src/main.ts`) and of `bun src/main.ts` /
 * `deno run -A src/main.ts`. It only runs the program (or probe-lock's internal lock child) and exits with its
 * code once stdout and stderr are flushed.
 */
export {}

function flush(stream: NodeJS.WriteStream): Promise<void> {
  return new Promise((resolve) => {
    if (stream.writableLength === 0) resolve()
    else stream.write('', () => resolve())
  })
}

// `run` from the compiled binary re-executes itself once with the allocator tuned for a broker (allocator-env.ts),
// before the program's modules are loaded (they would be loaded twice).
if (process.argv[2] === 'run') {
  await (await import('./cli/allocator-env.ts')).reexecWithAllocatorEnv((m) => process.stderr.write(`sfbroker: ${m}\n`))
}

// probe-lock's lock-holding child (see src/election/probe/child-command.ts) is the binary itself with this
// internal first argument; it is dispatched here, before the CLI, so it never shows in --help.
const code =
  process.argv[2] === '__lock-child'
    ? await (await import('./election/probe/lock-child.ts')).runLockChild(process.argv.slice(3))
    : await (await import('./cli/program.ts')).runProgram(process.argv)
await Promise.all([flush(process.stdout), flush(process.stderr)])
process.exit(code)
