/**
 * SharedLab: a shared-filesystem lab on one machine. One real directory, and one bindfs (FUSE) mount of it
 * per simulated host. Without lock forwarding the mounts' locks do not see each other (the OCFS2 / local_lock
 * case: every host "gets" the lock); with it they behave like honest hosts. SIGSTOP of a mount's daemon hangs
 * every I/O on it (a hung NFS server); SIGKILL makes it fail with ENOTCONN (the share is gone).
 * Optionally the real directory is a size-limited tmpfs (needs root): `fill()` then makes the disk full for real
 * (ENOSPC on every write) and `release()` frees it again.
 * With `common`, the lab also has one more mount (`host-all`, index `hosts`) that every broker can use at once: a
 * share all hosts depend on, so killing its daemon takes the share away from everybody (the share-blink fault).
 * Used by the chaos harness and by tests; needs `bindfs` and /dev/fuse (Debian: apt-get install bindfs fuse3).
 * `--enable-lock-forwarding` only works together with `--multithreaded` (bindfs refuses it otherwise).
 */
import { execFileSync, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'

export function bindfsAvailable(): boolean {
  if (!fs.existsSync('/dev/fuse')) return false
  return spawnSync('bindfs', ['--version'], { stdio: 'ignore' }).status === 0
}

/** Try to mount a tmpfs of `bytes` at dir; returns null on success or the reason it could not. */
export function mountTmpfs(dir: string, bytes: number): string | null {
  fs.mkdirSync(dir, { recursive: true })
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${bytes}`, 'tmpfs', dir], {
    stdio: 'pipe',
    encoding: 'utf8',
  })
  if (r.error) return r.error.message
  if (r.status !== 0) return (r.stderr || `mount exited ${r.status}`).trim()
  return null
}

function processRunning(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z'
  } catch {
    return false
  }
}

interface Mount {
  path: string
  pid: number
  forwarding: boolean
}

export class SharedLab {
  readonly real: string
  private mounts: Mount[] = []
  private tmpfs = false
  private filler: string | null = null

  /**
   * @param hosts bindfs mounts to make (0: none, every broker uses `real` directly)
   * @param tmpfsBytes when > 0, `real` is a tmpfs of that size if one can be mounted (see `tmpfsError`)
   */
  constructor(
    readonly root: string,
    readonly hosts: number,
    readonly lockForwarding: boolean,
    tmpfsBytes = 0,
    common = false,
  ) {
    this.real = path.join(root, 'real')
    fs.mkdirSync(this.real, { recursive: true })
    if (tmpfsBytes > 0) {
      this.tmpfsError = mountTmpfs(this.real, tmpfsBytes)
      this.tmpfs = this.tmpfsError === null
    }
    for (let i = 0; i < hosts; i++) this.mounts.push(this.mount(i, lockForwarding))
    if (common && hosts > 0) this.mounts.push(this.mount(hosts, true))
  }

  /** Index of the mount every host shares (see `common` in the constructor), or null without one. */
  get commonIndex(): number | null {
    return this.mounts.length > this.hosts ? this.hosts : null
  }

  /** Why no tmpfs could be mounted (null when it was, or none was asked for). */
  readonly tmpfsError: string | null = null

  get sizeLimited(): boolean {
    return this.tmpfs
  }

  /**
   * Entries brokers wrote into a bare mount point between unmount() and mount() of a remount, moved aside so the
   * mount can go on (FUSE refuses a non-empty mount point). That window is the lab's own artifact: a real share that
   * blinks keeps its mount point mounted (calls fail or hang), so nothing can land beside it. Each one is printed;
   * the checks that matter (two primaries, lost or unconfirmed messages) still see whatever a broker did there.
   */
  readonly strays: { mount: string; entries: string[]; movedTo: string }[] = []

  private mount(i: number, forwarding: boolean): Mount {
    const mnt = path.join(this.root, i === this.hosts ? 'host-all' : `host-${i}`)
    fs.mkdirSync(mnt, { recursive: true })
    const entries = fs.readdirSync(mnt)
    if (entries.length > 0) {
      const movedTo = path.join(this.root, `stray-${this.strays.length + 1}`)
      fs.renameSync(mnt, movedTo)
      fs.mkdirSync(mnt)
      this.strays.push({ mount: mnt, entries, movedTo })
      console.log(
        `lab: ${entries.length} entr${entries.length === 1 ? 'y' : 'ies'} written into the bare mount point ${mnt} during the remount window (${entries.join(', ')}), moved to ${movedTo}`,
      )
    }
    // nonempty: a broker may still write into the bare directory between the check above and this mount (it retries
    // every 100 ms–1 s); what lands there in that instant is hidden under the mount instead of failing the run.
    const args = forwarding
      ? ['--multithreaded', '--enable-lock-forwarding', '-o', 'nonempty', this.real, mnt]
      : ['-o', 'nonempty', this.real, mnt]
    execFileSync('bindfs', args, { stdio: 'pipe' })
    return { path: mnt, pid: this.daemonPid(mnt), forwarding }
  }

  private daemonPid(mnt: string): number {
    // bindfs daemonizes; find the daemon by its command line (the mount point is its last argument).
    for (const d of fs.readdirSync('/proc')) {
      if (!/^\d+$/.test(d)) continue
      try {
        const argv = fs.readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0').filter(Boolean)
        if (argv[0]?.endsWith('bindfs') && argv[argv.length - 1] === mnt) return Number(d)
      } catch {
        // the process went away while we looked
      }
    }
    throw new Error(`bindfs daemon for ${mnt} not found`)
  }

  /** The directory host i sees (the real directory when the lab has no mounts); `commonIndex` names the shared mount. */
  dir(i: number): string {
    return this.hosts === 0 ? this.real : this.mounts[i]!.path
  }

  /** pid of the FUSE daemon behind mount i (for reports). */
  daemonOf(i: number): number | null {
    return this.mounts[i]?.pid ?? null
  }

  /** Whether host i's mount forwards locks (honest) or keeps them local (lying). */
  forwarding(i: number): boolean {
    return this.mounts[i]?.forwarding ?? true
  }

  /** Hang all I/O on host i's mount (like a hung NFS server). */
  hang(i: number): void {
    process.kill(this.mounts[i]!.pid, 'SIGSTOP')
  }

  resume(i: number): void {
    process.kill(this.mounts[i]!.pid, 'SIGCONT')
  }

  /** The share disappears for host i: every call on the mount fails with ENOTCONN. */
  kill(i: number): void {
    try {
      process.kill(this.mounts[i]!.pid, 'SIGCONT')
      process.kill(this.mounts[i]!.pid, 'SIGKILL')
    } catch {
      // already gone
    }
  }

  /** Bring host i's mount back (after kill(), or to switch lock forwarding on or off). */
  remount(i: number, forwarding = this.mounts[i]?.forwarding ?? this.lockForwarding): void {
    this.unmount(i)
    this.mounts[i] = this.mount(i, forwarding)
  }

  private unmount(i: number): void {
    const m = this.mounts[i]
    if (!m) return
    try {
      process.kill(m.pid, 'SIGCONT')
    } catch {
      // not running
    }
    // A mount whose daemon died answers ENOTCONN until it is unmounted: lazily, since brokers may still hold files
    // open on it. fusermount3 on newer systems; umount -l as the last resort (root).
    const r = spawnSync('fusermount', ['-u', '-z', m.path], { stdio: 'ignore' })
    if (r.status !== 0 || r.error) {
      const r3 = spawnSync('fusermount3', ['-u', '-z', m.path], { stdio: 'ignore' })
      if (r3.status !== 0 || r3.error) spawnSync('umount', ['-l', m.path], { stdio: 'ignore' })
    }
    // A lazy unmount returns before the daemon exits; wait (bounded) so the next mount of the path is clean.
    // A daemonized bindfs is reparented to pid 1, which in a container may never reap it: a zombie counts as gone.
    for (let k = 0; k < 100 && processRunning(m.pid); k++) spawnSync('sleep', ['0.02'])
  }

  /** Make the (tmpfs) disk full: write a filler file until ENOSPC. Returns the bytes written. */
  fill(): number {
    if (!this.tmpfs) throw new Error('SharedLab.fill: the lab has no size-limited filesystem')
    this.filler = path.join(this.real, '.chaos-filler')
    const fd = fs.openSync(this.filler, 'w')
    const chunk = Buffer.alloc(1 << 20, 0x5a)
    let bytes = 0
    try {
      for (let k = 0; k < 1 << 16; k++) {
        try {
          bytes += fs.writeSync(fd, chunk)
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'ENOSPC') throw e
          // finish with smaller pieces so the filesystem is completely full
          for (let sz = 1 << 19; sz >= 512; sz >>= 1) {
            try {
              bytes += fs.writeSync(fd, chunk.subarray(0, sz))
              sz <<= 1
            } catch {
              // too big: try a smaller piece
            }
          }
          break
        }
      }
    } finally {
      fs.closeSync(fd)
    }
    return bytes
  }

  /** Free the space fill() took. */
  release(): void {
    if (this.filler) fs.rmSync(this.filler, { force: true })
    this.filler = null
  }

  cleanup(): void {
    for (let i = 0; i < this.mounts.length; i++) this.unmount(i)
    this.mounts = []
    this.release()
    if (this.tmpfs) {
      spawnSync('umount', ['-l', this.real], { stdio: 'ignore' })
      this.tmpfs = false
    }
  }
}
