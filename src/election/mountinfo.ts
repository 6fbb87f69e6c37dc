/**
 * Which filesystem a path lives on, from /proc/self/mountinfo, and the known traps for lock-based HA on it
 * (seed page + flock(2)/nfs(5) notes): NFSv3 needs a working lockd (NLM), `nolock` and `local_lock=` make
 * locks host-local, OCFS2 has no cluster-aware flock, FUSE filesystems forward locks only if asked, CIFS maps
 * flock to byte-range locks. Linux only; elsewhere it answers "unknown".
 */
import fs from 'node:fs'
import path from 'node:path'

export interface MountInfo {
  mountPoint: string
  fsType: string
  source: string
  /** per-mount and super-block options, merged */
  options: string[]
  /** st_dev of the mount as "major:minor" */
  devId: string
}

function unescape(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)))
}

export function parseMountinfo(text: string): MountInfo[] {
  const out: MountInfo[] = []
  for (const line of text.split('\n')) {
    if (!line.trim()) continue
    const sep = line.indexOf(' - ')
    if (sep < 0) continue
    const a = line.slice(0, sep).split(' ')
    const b = line.slice(sep + 3).split(' ')
    if (a.length < 6 || b.length < 2) continue
    out.push({
      devId: a[2]!,
      mountPoint: unescape(a[4]!),
      options: [...a[5]!.split(','), ...(b[2] ?? '').split(',')].filter(Boolean),
      fsType: b[0]!,
      source: unescape(b[1]!),
    })
  }
  return out
}

/** The mount holding `p` (longest mount point prefix of its realpath), or null when unknown. */
export function mountOf(p: string): MountInfo | null {
  let text: string
  let real: string
  try {
    text = fs.readFileSync('/proc/self/mountinfo', 'utf8')
    real = fs.realpathSync(p)
  } catch {
    return null
  }
  let best: MountInfo | null = null
  for (const m of parseMountinfo(text)) {
    const mp = m.mountPoint
    const inside = real === mp || real.startsWith(mp.endsWith(path.sep) ? mp : mp + path.sep)
    if (inside && (!best || mp.length >= best.mountPoint.length)) best = m
  }
  return best
}

export type FsClass = 'local' | 'nfs' | 'fuse' | 'cluster' | 'cifs' | 'other'

export function classify(fsType: string): FsClass {
  if (
    ['ext2', 'ext3', 'ext4', 'xfs', 'btrfs', 'tmpfs', 'zfs', 'f2fs', 'overlay', 'jfs', 'reiserfs', 'bcachefs'].includes(
      fsType,
    )
  )
    return 'local'
  if (fsType === 'nfs' || fsType === 'nfs4') return 'nfs'
  if (fsType.startsWith('fuse')) return 'fuse'
  if (['ocfs2', 'gfs2', 'glusterfs', 'cephfs', 'ceph', 'lustre', 'gpfs'].includes(fsType)) return 'cluster'
  if (fsType === 'cifs' || fsType === 'smb3' || fsType === 'smbfs') return 'cifs'
  return 'other'
}

/** Known traps of this mount for lock-based HA, one sentence each. */
export function mountWarnings(m: MountInfo | null): string[] {
  if (!m) return ['filesystem unknown (no /proc/self/mountinfo): run sfbroker probe-lock on every host']
  const w: string[] = []
  const opt = (name: string) => m.options.find((o) => o === name || o.startsWith(name + '='))
  const cls = classify(m.fsType)
  if (cls === 'nfs') {
    const vers = opt('vers') ?? opt('nfsvers')
    const v = vers ? vers.split('=')[1] : m.fsType === 'nfs4' ? '4' : undefined
    if (v && v.startsWith('3'))
      w.push(
        `NFSv3 mount (${m.mountPoint}): locks depend on lockd/NLM and statd; a network partition can leave a stale lock or two holders — prefer NFSv4.1+`,
      )
    if (opt('nolock'))
      w.push(
        `NFS mount option nolock (${m.mountPoint}): locks are local to this host and do NOT exclude other hosts — NOT SAFE for shared-store HA`,
      )
    const ll = opt('local_lock')
    if (ll && ll !== 'local_lock=none')
      w.push(
        `NFS mount option ${ll} (${m.mountPoint}): some lock types are local to this host and do not exclude other hosts`,
      )
    if (opt('soft')) w.push(`NFS mount option soft (${m.mountPoint}): I/O can fail silently under load; use hard`)
  }
  if (m.fsType === 'ocfs2')
    w.push(
      `OCFS2 (${m.mountPoint}): flock is not cluster-aware (AMQ-4378: both brokers thought they had the lock); use lock type fcntl only if probe-lock --peer says SAFE`,
    )
  if (cls === 'fuse')
    w.push(
      `FUSE filesystem ${m.fsType} (${m.mountPoint}): locks exclude other hosts only if the filesystem forwards them (e.g. bindfs --enable-lock-forwarding); verify with probe-lock --peer`,
    )
  if (cls === 'cifs')
    w.push(`CIFS/SMB (${m.mountPoint}): flock maps to byte-range locks since Linux 5.5; verify with probe-lock --peer`)
  if (cls === 'cluster' && m.fsType !== 'ocfs2')
    w.push(
      `cluster filesystem ${m.fsType} (${m.mountPoint}): verify lock exclusion across hosts with probe-lock --peer`,
    )
  return w
}
