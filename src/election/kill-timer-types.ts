/**
 * The runtime-neutral half of the kill timer (kill-timer-bun.ts binds it): a POSIX per-process timer
 * (timer_create(2)) on CLOCK_MONOTONIC whose expiry sends SIGKILL to this process. The kernel delivers it however
 * stuck the process's threads are, so it needs no thread of ours to watch. This file owns the Linux constants and
 * the two struct layouts the calls take; it promises nothing on other kernels (the binding refuses to load there).
 */

/** One armed deadline that kills this process when it passes; re-arming replaces it. */
export interface KillTimer {
  /** Kill this process with SIGKILL `ms` from now unless armed again or disarmed before (ms ≥ 1, integer). */
  arm(ms: number): void
  /** No deadline. */
  disarm(): void
  /** Disarm and delete the kernel timer; the timer cannot be used again. Idempotent. */
  close(): void
}

// Linux constants (identical on x86_64 and arm64).
export const CLOCK_MONOTONIC = 1
export const SIGEV_SIGNAL = 0
export const SIGKILL = 9

/**
 * sizeof(struct sigevent) on linux x86_64/arm64 (glibc and musl): sigev_value (union sigval, 8) @0, sigev_signo
 * (int) @8, sigev_notify (int) @12, then the notify union padded to 64 bytes (thread id, or function + attributes).
 */
export const STRUCT_SIGEVENT_BYTES = 64
/** sizeof(struct itimerspec): it_interval then it_value, each a struct timespec { tv_sec i64, tv_nsec i64 }. */
export const STRUCT_ITIMERSPEC_BYTES = 32
/** sizeof(timer_t) on LP64: glibc's is a pointer-sized handle (the kernel's timer id for SIGEV_SIGNAL timers). */
export const TIMER_T_BYTES = 8

/** Fill `buf` with a struct sigevent asking for signal `signo` to this process on expiry (SIGEV_SIGNAL). */
export function fillSigevent(buf: Uint8Array, signo: number): void {
  const dv = new DataView(buf.buffer, buf.byteOffset, STRUCT_SIGEVENT_BYTES)
  buf.fill(0, 0, STRUCT_SIGEVENT_BYTES)
  dv.setBigInt64(0, 0n, true) // sigev_value: unused by SIGKILL (no handler ever sees it)
  dv.setInt32(8, signo, true)
  dv.setInt32(12, SIGEV_SIGNAL, true)
}

/**
 * Fill `buf` with a one-shot struct itimerspec: it_interval zero, it_value `ms` from now (relative, flags 0).
 * `ms` = 0 disarms the timer. Throws a RangeError for anything but a non-negative safe integer.
 */
export function fillItimerspec(buf: Uint8Array, ms: number): void {
  if (!Number.isSafeInteger(ms) || ms < 0) throw new RangeError(`kill timer: ${ms} ms is not a whole number ≥ 0`)
  const dv = new DataView(buf.buffer, buf.byteOffset, STRUCT_ITIMERSPEC_BYTES)
  buf.fill(0, 0, STRUCT_ITIMERSPEC_BYTES)
  dv.setBigInt64(16, BigInt(Math.floor(ms / 1000)), true) // it_value.tv_sec
  dv.setBigInt64(24, BigInt((ms % 1000) * 1_000_000), true) // it_value.tv_nsec, < 1e9
}
