/**
 * TlsContextSource: the key material of one `<sslContext>` (or the admin endpoint's own TLS attributes), read
 * from its files and re-read without a restart. It owns reading the files (PKCS#12 keyStore → node's `pfx`;
 * PEM keyFile/certFile; trust from a PKCS#12 trustStore or a PEM caFile), refusing JKS/JCEKS with the keytool
 * command that converts them, and reloads: on `reload()` (SIGHUP) and when a watched file changes (polled, so
 * an atomic rename or a symlink swap by a rotation tool is seen too). A reload that fails is logged and the
 * previous material stays in use; listeners hear only of material that built a working context.
 * Protocol-neutral: connectors and the admin endpoint build their contexts from `material()` (tls-server.ts).
 * Never logs, returns in an error, or exposes through toJSON a password.
 */
import crypto from 'node:crypto'
import fs from 'node:fs'
import tls from 'node:tls'
import type { SslContextConfig } from '../config/types.ts'
import { BrokerError } from '../lib/errors.ts'
import { logger } from '../lib/log.ts'
import { detectKeystoreFormat, keytoolConvertCommand, readPkcs12 } from './tls-keystore.ts'

const log = logger('tls')

/** What tls.createSecureContext needs besides protocol and cipher limits. */
export interface TlsMaterial {
  pfx?: Buffer
  key?: Buffer
  cert?: Buffer
  passphrase?: string
  ca?: string[]
}

/** How often watched files are stat'ed, and how long a burst of changes (key, then cert) is let settle. */
export const TLS_WATCH_POLL_MS = 1000
export const TLS_RELOAD_SETTLE_MS = 300
/** Largest key or trust store file read (a PEM bundle of every public CA is ~250 KiB). */
export const TLS_FILE_BYTES_MAX = 4 * 1024 * 1024

type ReadFile = (file: string) => Buffer

function readStoreFile(file: string, what: string, read: ReadFile): Buffer {
  let st: fs.Stats
  try {
    st = fs.statSync(file)
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code
    throw new BrokerError(
      'TLS_KEYSTORE_INVALID',
      `${what} ${file}: ${code === 'ENOENT' ? 'not found' : `cannot be read (${code ?? (e as Error).message})`}; expected a readable file`,
      { cause: e },
    )
  }
  if (!st.isFile())
    throw new BrokerError(
      'TLS_KEYSTORE_INVALID',
      `${what} ${file}: is not a regular file; expected a key store or PEM file`,
    )
  if (st.size > TLS_FILE_BYTES_MAX)
    throw new BrokerError(
      'TLS_KEYSTORE_INVALID',
      `${what} ${file}: ${st.size} bytes; expected at most ${TLS_FILE_BYTES_MAX}`,
    )
  try {
    return read(file)
  } catch (e) {
    throw new BrokerError(
      'TLS_KEYSTORE_INVALID',
      `${what} ${file}: cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); expected a readable file`,
      { cause: e },
    )
  }
}

function refuseJava(file: string, bytes: Buffer, what: string): void {
  const f = detectKeystoreFormat(bytes)
  if (f === 'jks' || f === 'jceks') {
    throw new BrokerError(
      'TLS_KEYSTORE_INVALID',
      `${what} ${file}: is a Java ${f.toUpperCase()} key store, which sfbroker cannot read; convert it to PKCS#12 with: ${keytoolConvertCommand(file, f)} (then point ${what} at the .p12)`,
    )
  }
}

/** Read the files of `cfg` into material for tls.createSecureContext. `where` prefixes errors (`sslContext`). */
export function readTlsMaterial(
  cfg: SslContextConfig,
  where: string,
  read: ReadFile = (f) => fs.readFileSync(f),
): TlsMaterial {
  const out: TlsMaterial = {}
  if (cfg.keyStore !== null) {
    const what = `${where} keyStore`
    const bytes = readStoreFile(cfg.keyStore, what, read)
    refuseJava(cfg.keyStore, bytes, what)
    const format = detectKeystoreFormat(bytes)
    if (format === 'pem')
      throw new BrokerError(
        'TLS_KEYSTORE_INVALID',
        `${what} ${cfg.keyStore}: is a PEM file; expected a PKCS#12 store here, or keyFile + certFile for PEM`,
      )
    const password = cfg.keyStorePassword?.reveal() ?? ''
    const contents = readPkcs12(bytes, password, `${what} ${cfg.keyStore}`)
    if (!contents.hasKey)
      throw new BrokerError(
        'TLS_KEYSTORE_INVALID',
        `${what} ${cfg.keyStore}: holds certificates only (a trust store?); expected a private key with its certificate`,
      )
    out.pfx = bytes
    out.passphrase = password
  } else if (cfg.keyFile !== null && cfg.certFile !== null) {
    out.key = readStoreFile(cfg.keyFile, `${where} keyFile`, read)
    refuseJava(cfg.keyFile, out.key, `${where} keyFile`)
    out.cert = readStoreFile(cfg.certFile, `${where} certFile`, read)
    refuseJava(cfg.certFile, out.cert, `${where} certFile`)
    if (detectKeystoreFormat(out.key) !== 'pem')
      throw new BrokerError(
        'TLS_KEYSTORE_INVALID',
        `${where} keyFile ${cfg.keyFile}: is not PEM; expected a "-----BEGIN ... PRIVATE KEY-----" file (a PKCS#12 goes in keyStore)`,
      )
    if (detectKeystoreFormat(out.cert) !== 'pem')
      throw new BrokerError(
        'TLS_KEYSTORE_INVALID',
        `${where} certFile ${cfg.certFile}: is not PEM; expected "-----BEGIN CERTIFICATE-----" blocks`,
      )
    if (cfg.keyPassword !== null) out.passphrase = cfg.keyPassword.reveal()
  }
  if (cfg.trustStore !== null) {
    const what = `${where} trustStore`
    const bytes = readStoreFile(cfg.trustStore, what, read)
    refuseJava(cfg.trustStore, bytes, what)
    const format = detectKeystoreFormat(bytes)
    const certs =
      format === 'pem'
        ? pemCertificates(bytes)
        : readPkcs12(bytes, cfg.trustStorePassword?.reveal() ?? '', `${what} ${cfg.trustStore}`).certificatesPem
    if (certs.length === 0)
      throw new BrokerError(
        'TLS_KEYSTORE_INVALID',
        `${what} ${cfg.trustStore}: holds no certificate; expected the CA certificates to trust`,
      )
    out.ca = certs
  } else if (cfg.caFile !== null) {
    const what = `${where} caFile`
    const bytes = readStoreFile(cfg.caFile, what, read)
    refuseJava(cfg.caFile, bytes, what)
    const certs = pemCertificates(bytes)
    if (certs.length === 0)
      throw new BrokerError(
        'TLS_KEYSTORE_INVALID',
        `${what} ${cfg.caFile}: holds no "-----BEGIN CERTIFICATE-----" block; expected PEM CA certificates`,
      )
    out.ca = certs
  }
  return out
}

function pemCertificates(bytes: Buffer): string[] {
  return (
    bytes
      .toString('latin1')
      .match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g)
      ?.map((c) => c + '\n') ?? []
  )
}

/** tls.createSecureContext, with its error turned into TLS_KEYSTORE_INVALID naming `where` (never the password). */
export function createContext(
  material: TlsMaterial,
  limits: tls.SecureContextOptions,
  where: string,
): tls.SecureContext {
  try {
    return tls.createSecureContext({ ...material, ...limits })
  } catch (e) {
    const msg = String((e as Error).message ?? e).replace(
      material.passphrase ? new RegExp(escapeRegExp(material.passphrase), 'g') : /$^/,
      '[redacted]',
    )
    const hint = /mac verif|passphrase|bad decrypt/i.test(msg)
      ? ' (wrong password?)'
      : /mismatch/i.test(msg)
        ? ' (the key does not belong to the certificate)'
        : /cipher/i.test(msg)
          ? ' (no cipher suite of the list is known)'
          : ''
    throw new BrokerError('TLS_KEYSTORE_INVALID', `${where}: cannot build a TLS context: ${msg}${hint}`, { cause: e })
  }
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}

/** Subject, expiry and SHA-256 fingerprint of the served certificate, for the log line of a (re)load. */
export function describeMaterial(m: TlsMaterial): string {
  try {
    let pem: string | undefined
    if (m.cert) pem = pemCertificates(m.cert)[0]
    else if (m.pfx) {
      const all = readPkcs12(m.pfx, m.passphrase ?? '', 'keyStore').certificatesPem.map(
        (c) => new crypto.X509Certificate(c),
      )
      const leaf = all.find((c) => !c.ca) ?? all[0]
      if (leaf)
        return `${leaf.subject.replace(/\n/g, ', ')}, valid to ${leaf.validTo}, sha256 ${leaf.fingerprint256.slice(0, 23)}…`
    }
    if (!pem) return 'no certificate'
    const c = new crypto.X509Certificate(pem)
    return `${c.subject.replace(/\n/g, ', ')}, valid to ${c.validTo}, sha256 ${c.fingerprint256.slice(0, 23)}…`
  } catch {
    return 'certificate not described'
  }
}

export class TlsContextSource {
  private current: TlsMaterial
  private readonly listeners = new Set<(m: TlsMaterial) => void>()
  private watching: {
    files: string[]
    settle: ReturnType<typeof setTimeout> | null
    poll: ReturnType<typeof setInterval> | null
    onSignal: () => void
  } | null = null
  /** Reloads that kept the old material because the new files did not work (for status and tests). */
  failedReloads = 0
  reloads = 0

  /** Reads the files now: a bad file throws TLS_KEYSTORE_INVALID (at start, the process exits 1). */
  constructor(
    readonly cfg: SslContextConfig,
    readonly where: string,
    private readonly read: ReadFile = (f) => fs.readFileSync(f),
  ) {
    this.current = readTlsMaterial(cfg, where, read)
    createContext(this.current, {}, where) // a key that does not fit its certificate fails here, not at the first client
    log.info(`${where}: serving ${describeMaterial(this.current)}`)
  }

  material(): TlsMaterial {
    return this.current
  }

  /** The files a rotation may replace. */
  files(): string[] {
    const c = this.cfg
    return [c.keyStore, c.trustStore, c.keyFile, c.certFile, c.caFile].filter((f): f is string => f !== null)
  }

  /** Called with the new material after each successful reload; returns the unsubscribe function. */
  onChange(fn: (m: TlsMaterial) => void): () => void {
    this.listeners.add(fn)
    return () => this.listeners.delete(fn)
  }

  /**
   * Re-read the files. On success the listeners get the new material and true is returned; on failure the error
   * is logged, the old material stays, and false is returned. A listener that throws (a connector whose limits do
   * not suit the new key) is logged; the others still switch.
   */
  reload(reason: string): boolean {
    let next: TlsMaterial
    try {
      next = readTlsMaterial(this.cfg, this.where, this.read)
      createContext(next, {}, this.where)
    } catch (e) {
      this.failedReloads++
      log.error(
        `${this.where}: reload (${reason}) failed, still serving the previous certificate: ${(e as Error).message}`,
        { code: (e as BrokerError).code },
      )
      return false
    }
    this.current = next
    this.reloads++
    log.info(`${this.where}: reloaded (${reason}): serving ${describeMaterial(next)}`)
    for (const fn of this.listeners) {
      try {
        fn(next)
      } catch (e) {
        log.error(`${this.where}: a listener refused the reloaded material: ${(e as Error).message}`)
      }
    }
    return true
  }

  /**
   * Reload on SIGHUP and when a file changes (stat polled every pollMs). Idempotent; stop with unwatch(). The
   * baseline is taken here, synchronously: fs.watchFile takes its own lazily under Bun, so a rotation right after
   * watch() could become the baseline and never be seen.
   */
  watch(opts: { signal?: boolean; pollMs?: number } = {}): void {
    if (this.watching) return
    const pollMs = opts.pollMs ?? TLS_WATCH_POLL_MS
    const stamp = (f: string): string => {
      try {
        const st = fs.statSync(f)
        return `${st.ino}:${st.size}:${st.mtimeMs}`
      } catch {
        return 'missing'
      }
    }
    const files = this.files()
    const seen = new Map(files.map((f) => [f, stamp(f)] as const))
    const w = {
      files,
      settle: null as ReturnType<typeof setTimeout> | null,
      poll: null as ReturnType<typeof setInterval> | null,
      onSignal: () => void this.reload('SIGHUP'),
    }
    this.watching = w
    w.poll = setInterval(() => {
      for (const f of files) {
        const now = stamp(f)
        if (now === seen.get(f)) continue
        seen.set(f, now)
        if (w.settle) clearTimeout(w.settle)
        w.settle = setTimeout(() => {
          w.settle = null
          if (this.watching === w) this.reload(`${f} changed`)
        }, TLS_RELOAD_SETTLE_MS)
        w.settle.unref?.()
      }
    }, pollMs)
    w.poll.unref?.()
    if (opts.signal !== false) process.on('SIGHUP', w.onSignal)
  }

  unwatch(): void {
    const w = this.watching
    if (!w) return
    this.watching = null
    if (w.settle) clearTimeout(w.settle)
    if (w.poll) clearInterval(w.poll)
    process.off('SIGHUP', w.onSignal)
  }

  /** Never the material: a source that ends up in a logged object shows where it reads from. */
  toJSON(): Record<string, unknown> {
    return { where: this.where, files: this.files(), reloads: this.reloads, failedReloads: this.failedReloads }
  }
}
