/** statx(2) constants and the one field freshSize reads (Linux UAPI struct statx: stx_size at byte 40). */
export const AT_FDCWD = -100
/** Ask the file server for the attributes instead of trusting this host's cache (FUSE, NFS). */
export const AT_STATX_FORCE_SYNC = 0x2000
export const STATX_SIZE = 0x200
/** sizeof(struct statx) is 256. */
export const STATX_BUFFER_BYTES = 256

export function statxSize(buf: Uint8Array): number {
  return Number(new DataView(buf.buffer, buf.byteOffset, buf.byteLength).getBigUint64(40, true))
}
