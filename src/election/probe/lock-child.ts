/**
 * The child side of `probe-lock` and of the lock tests: one process that locks one file and reports on stdout,
 * one JSON object per line, then holds until killed or until its stdin closes.
 *   modes: `try`  non-blocking exclusive attempt → {"event":"locked"} or {"event":"busy"}, then hold if locked
 *          `wait` blocking exclusive wait (worker) → {"event":"waiting"} then {"event":"locked","at":ms}
 *          `shtry` non-blocking shared attempt → locked|busy
 * Exit codes: 0 after release, 2 bad usage, 3 lock error (printed as {"event":"error"}).
 */
import { LockFile } from '../lock/index.ts'
import type { LockType } from '../../config/index.ts'
import { loadLibc } from '../lock/index.ts'

function emit(o: Record<string, unknown>): void {
  process.stdout.write(JSON.stringify(o) + '\n')
}

export async function runLockChild(args: string[]): Promise<number> {
  const [file, kind, mode] = args
  if (!file || (kind !== 'flock' && kind !== 'fcntl') || !['try', 'wait', 'shtry'].includes(mode ?? '')) {
    process.stderr.write(`usage: __lock-child <file> flock|fcntl try|wait|shtry (got ${JSON.stringify(args)})\n`)
    return 2
  }
  try {
    const lf = await LockFile.open(file, kind as LockType)
    if (mode === 'shtry') {
      const lib = await loadLibc()
      try {
        if (kind === 'flock') lib.flock(lf.fd, 'shnb')
        else lib.fcntl(lf.fd, 'shnb')
        emit({ event: 'locked', at: Date.now(), pid: process.pid })
      } catch (e) {
        if ((e as { wouldBlock?: boolean }).wouldBlock) {
          emit({ event: 'busy', pid: process.pid })
          return 0
        }
        throw e
      }
    } else if (mode === 'try') {
      if (!lf.tryLock()) {
        emit({ event: 'busy', pid: process.pid })
        lf.close()
        return 0
      }
      emit({ event: 'locked', at: Date.now(), pid: process.pid })
    } else {
      const w = lf.waitLock()
      emit({ event: 'waiting', pid: process.pid })
      await w.done
      emit({ event: 'locked', at: Date.now(), pid: process.pid })
    }
    // Hold until stdin closes (parent gone or done) — kill -9 is the other way out.
    await new Promise<void>((resolve) => {
      process.stdin.on('end', resolve)
      process.stdin.on('close', resolve)
      process.stdin.on('error', resolve)
      process.stdin.resume()
    })
    lf.close()
    return 0
  } catch (e) {
    emit({ event: 'error', code: (e as { code?: string }).code ?? 'ERROR', message: (e as Error).message })
    return 3
  }
}
