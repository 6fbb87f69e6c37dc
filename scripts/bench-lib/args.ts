/**
 * Flag parsing for the benchmark scripts: `--name value` pairs and bare `--flag`s, checked against the flags a
 * script declares; a bad value or an unknown flag is a BenchError naming the flag, the value and what was expected.
 */
import { BenchError } from './proc.ts'

export interface FlagSpec {
  /** Integer flags with their minimum. */
  ints: Record<string, number>
  strings: string[]
  bools: string[]
}

export class Args {
  private readonly values = new Map<string, string>()
  private readonly bools = new Set<string>()

  constructor(
    argv: string[],
    private readonly spec: FlagSpec,
  ) {
    for (let i = 0; i < argv.length; i++) {
      const a = argv[i]!
      if (!a.startsWith('--')) throw new BenchError(`argument "${a}": expected a --flag`)
      const name = a.slice(2)
      if (name === 'help') {
        this.bools.add('help')
        continue
      }
      if (spec.bools.includes(name)) {
        this.bools.add(name)
        continue
      }
      if (!(name in spec.ints) && !spec.strings.includes(name)) {
        throw new BenchError(
          `unknown flag --${name}; known: ${[...Object.keys(spec.ints), ...spec.strings, ...spec.bools].map((f) => `--${f}`).join(' ')}`,
        )
      }
      const v = argv[i + 1]
      if (v === undefined || v.startsWith('--')) throw new BenchError(`--${name}: expected a value`)
      this.values.set(name, v)
      i++
    }
  }

  has(name: string): boolean {
    return this.bools.has(name)
  }

  int(name: string, def: number): number {
    const raw = this.values.get(name)
    if (raw === undefined) return def
    const n = Number(raw.replace(/_/g, ''))
    const min = this.spec.ints[name]!
    if (!Number.isSafeInteger(n) || n < min) throw new BenchError(`--${name}: "${raw}" is not an integer >= ${min}`)
    return n
  }

  str(name: string, def: string): string {
    return this.values.get(name) ?? def
  }
}
