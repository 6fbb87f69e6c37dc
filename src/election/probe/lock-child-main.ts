/** Entry used when running from source: `bun src/election/probe/lock-child-main.ts <file> <kind> <mode>`. */
import { runLockChild } from './lock-child.ts'

process.exit(await runLockChild(process.argv.slice(2)))
