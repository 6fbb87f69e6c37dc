/**
 * Test-only: builds test/jms/*.java with javac against Debian's ActiveMQ 5.17 client jars and runs a class in a
 * JVM, reading its "PASS name" / "FAIL name: why" lines. `jmsMissing` says why the JMS tests must skip (no JDK or
 * no jars), or is undefined.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export const JMS_JARS = [
  'activemq-client.jar',
  'geronimo-jms_1.1_spec.jar',
  'hawtbuf.jar',
  'slf4j-api.jar',
  'slf4j-nop.jar',
  'geronimo-j2ee-management-1.1-spec.jar',
].map((j) => `/usr/share/java/${j}`)

const javac = Bun.which('javac')
const java = Bun.which('java')

export const jmsMissing: string | undefined =
  javac === null || java === null ? 'javac/java not installed' : JMS_JARS.find((j) => !existsSync(j))
if (jmsMissing !== undefined) console.warn(`openwire JMS tests skipped: ${jmsMissing} (apt-get install activemq)`)

export interface JmsBuild {
  dir: string
  classpath: string
  remove(): void
}

/** javac of the named sources in test/jms into a fresh temp dir. */
export function buildJms(...sources: string[]): JmsBuild {
  const dir = mkdtempSync(join(tmpdir(), 'openwire-jms-'))
  const cp = JMS_JARS.join(':')
  const built = Bun.spawnSync([javac!, '-d', dir, '-cp', cp, ...sources.map((s) => join(import.meta.dir, s))])
  if (built.exitCode !== 0) throw new Error(`javac failed: ${built.stderr.toString()}`)
  return { dir, classpath: `${dir}:${cp}`, remove: () => rmSync(dir, { recursive: true, force: true }) }
}

export interface JmsRun {
  /** Scenario → 'PASS' or 'FAIL: why'. */
  results: Map<string, string>
  output: string
  exitCode: number
}

/** Runs `main` with `args` to its end (bounded by the JVM's own timeouts in the scenarios). */
export async function runJms(build: JmsBuild, main: string, args: string[]): Promise<JmsRun> {
  const run = Bun.spawn([java!, '-cp', build.classpath, main, ...args], { stdout: 'pipe', stderr: 'pipe' })
  const [out, err, exitCode] = await Promise.all([
    new Response(run.stdout).text(),
    new Response(run.stderr).text(),
    run.exited,
  ])
  const results = new Map<string, string>()
  for (const line of out.split('\n')) {
    const m = /^(PASS|FAIL) (\w+)(: .*)?$/.exec(line)
    if (m) results.set(m[2]!, m[1] === 'PASS' ? 'PASS' : `FAIL${m[3]}`)
  }
  return { results, output: `${out}\n${err}`, exitCode }
}
