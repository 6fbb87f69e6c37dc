/**
 * Which filesystem errors on the shared directory are transient. Once the share has worked for a node, an error
 * there is a blink (NFS server restarting, FUSE daemon gone until re-mounted, permissions being fixed) until
 * proven otherwise: the node stays up as a replica and retries. Errors that say the *lock mechanism* cannot work
 * (no flock/fcntl support, invalid arguments) are not transient: retrying cannot help, so the node exits 1.
 */
import { BrokerError } from '../lib/errors.ts'

/** errno codes that mean "the lock mechanism cannot work here", never "the share blinked". */
const PERMANENT = new Set(['ENOLCK', 'EOPNOTSUPP', 'ENOTSUP', 'ENOSYS', 'EINVAL', 'EBADF'])

/** The errno code an error carries, when it has one (node:fs errors, ShareIOError, LibcError, BrokerError causes). */
export function errnoOf(err: unknown): string | undefined {
  for (let e: unknown = err, depth = 0; e && depth < 4; depth++) {
    const code = (e as { code?: unknown }).code
    if (typeof code === 'string' && /^E[A-Z0-9]+$/.test(code)) return code
    e = (e as { cause?: unknown }).cause
  }
  return undefined
}

export function isTransientShareError(err: unknown): boolean {
  if (err instanceof BrokerError && (err.code === 'ELECTION_LOCK_UNSUPPORTED' || err.code === 'ELECTION_LOCK_HELD')) {
    // A lock call refused with an errno that says the share is gone (ENOTCONN...) is still a blink.
    const errno = errnoOf(err.cause)
    return errno !== undefined && !PERMANENT.has(errno)
  }
  const errno = errnoOf(err)
  return errno !== undefined && !PERMANENT.has(errno)
}
