/**
 * Key and trust stores as ActiveMQ users have them, read without Java: the format of a store file (PKCS#12,
 * PEM, or Java's own JKS/JCEKS, which are refused with the keytool command that converts them), and the
 * certificates of a PKCS#12 *trust* store (node's `pfx` option needs a private key, a truststore made by
 * `keytool -importcert` has none). The PKCS#12 reader (RFC 7292) checks the MAC, decrypts PBES2 (PBKDF2 +
 * AES/3DES, what JDK 17 and OpenSSL 3 write) and the legacy SHA-1/3DES scheme, and returns certificate bags as
 * PEM; it never returns key material (keystores go to node as `pfx`). No I/O: callers pass the bytes.
 * Errors are BrokerError TLS_KEYSTORE_INVALID and never contain a password.
 */
import crypto from 'node:crypto'
import path from 'node:path'
import { BrokerError } from '../lib/errors.ts'

export type KeystoreFormat = 'jks' | 'jceks' | 'pkcs12' | 'pem' | 'unknown'

/** By magic bytes: JKS 0xFEEDFEED, JCEKS 0xCECECECE, PEM text, PKCS#12 a DER SEQUENCE. */
export function detectKeystoreFormat(b: Uint8Array): KeystoreFormat {
  if (b.length >= 4 && b[0] === 0xfe && b[1] === 0xed && b[2] === 0xfe && b[3] === 0xed) return 'jks'
  if (b.length >= 4 && b[0] === 0xce && b[1] === 0xce && b[2] === 0xce && b[3] === 0xce) return 'jceks'
  const head = Buffer.from(b.subarray(0, 64))
    .toString('latin1')
    .replace(/^\uFEFF|^\xEF\xBB\xBF/, '')
    .trimStart()
  if (head.startsWith('-----BEGIN ')) return 'pem'
  if (b.length >= 2 && b[0] === 0x30 && (b[1] & 0x80 ? b[1] >= 0x81 && b[1] <= 0x84 : true)) return 'pkcs12'
  return 'unknown'
}

const shellQuote = (s: string): string => (/^[A-Za-z0-9_./:=@%+-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`)

/** The PKCS#12 file a converted store should go to: same folder and name, `.p12`. */
export function convertedStorePath(file: string): string {
  const ext = path.extname(file)
  const base = ext === '' ? file : file.slice(0, -ext.length)
  return `${base}.p12`
}

/** The keytool command that converts a JKS/JCEKS store at `file` to PKCS#12 (it asks for the passwords). */
export function keytoolConvertCommand(file: string, format: 'jks' | 'jceks'): string {
  const src = format === 'jceks' ? ' -srcstoretype JCEKS' : ''
  return `keytool -importkeystore -srckeystore ${shellQuote(file)}${src} -destkeystore ${shellQuote(convertedStorePath(file))} -deststoretype PKCS12`
}

// ---- DER ----

interface Tlv {
  tag: number
  /** Offset of the value. */
  start: number
  end: number
}

class Der {
  constructor(readonly buf: Buffer) {}

  read(off: number, limit = this.buf.length): Tlv {
    const b = this.buf
    if (off + 2 > limit) throw new Error('truncated DER')
    const tag = b[off]
    let len = b[off + 1]
    let p = off + 2
    if (len & 0x80) {
      const n = len & 0x7f
      if (n === 0 || n > 4) throw new Error(n === 0 ? 'indefinite-length BER is not supported' : 'DER length too long')
      len = 0
      for (let i = 0; i < n; i++) len = len * 256 + b[p + i]
      p += n
    }
    if (p + len > limit) throw new Error('truncated DER')
    return { tag, start: p, end: p + len }
  }

  children(t: Tlv): Tlv[] {
    const out: Tlv[] = []
    for (let p = t.start; p < t.end; ) {
      const c = this.read(p, t.end)
      out.push(c)
      p = c.end
    }
    return out
  }

  expect(t: Tlv | undefined, tag: number, what: string): Tlv {
    if (!t || t.tag !== tag) throw new Error(`expected ${what}`)
    return t
  }

  bytes(t: Tlv): Buffer {
    return this.buf.subarray(t.start, t.end)
  }

  /** An OCTET STRING's content, primitive or constructed (BER writers may chunk it). */
  octets(t: Tlv): Buffer {
    if (t.tag === 0x04) return this.bytes(t)
    if (t.tag === 0x24) return Buffer.concat(this.children(t).map((c) => this.octets(c)))
    throw new Error('expected OCTET STRING')
  }

  int(t: Tlv): number {
    this.expect(t, 0x02, 'INTEGER')
    let n = 0
    for (let i = t.start; i < t.end; i++) n = n * 256 + this.buf[i]
    return n
  }

  oid(t: Tlv): string {
    this.expect(t, 0x06, 'OBJECT IDENTIFIER')
    const b = this.bytes(t)
    const parts = [Math.floor(b[0] / 40), b[0] % 40]
    let v = 0
    for (let i = 1; i < b.length; i++) {
      v = v * 128 + (b[i] & 0x7f)
      if (!(b[i] & 0x80)) {
        parts.push(v)
        v = 0
      }
    }
    return parts.join('.')
  }
}

const OID = {
  data: '1.2.840.113549.1.7.1',
  encryptedData: '1.2.840.113549.1.7.6',
  keyBag: '1.2.840.113549.1.12.10.1.1',
  shroudedKeyBag: '1.2.840.113549.1.12.10.1.2',
  certBag: '1.2.840.113549.1.12.10.1.3',
  safeContentsBag: '1.2.840.113549.1.12.10.1.6',
  x509Certificate: '1.2.840.113549.1.9.22.1',
  pbes2: '1.2.840.113549.1.5.13',
  pbkdf2: '1.2.840.113549.1.5.12',
  pbeSha3Des: '1.2.840.113549.1.12.1.3',
  pbeShaRc2_40: '1.2.840.113549.1.12.1.6',
} as const

const HASHES: Record<string, { name: string; block: number }> = {
  '1.3.14.3.2.26': { name: 'sha1', block: 64 },
  '2.16.840.1.101.3.4.2.1': { name: 'sha256', block: 64 },
  '2.16.840.1.101.3.4.2.2': { name: 'sha384', block: 128 },
  '2.16.840.1.101.3.4.2.3': { name: 'sha512', block: 128 },
}
const HMACS: Record<string, string> = {
  '1.2.840.113549.2.7': 'sha1',
  '1.2.840.113549.2.9': 'sha256',
  '1.2.840.113549.2.10': 'sha384',
  '1.2.840.113549.2.11': 'sha512',
}
const CIPHERS: Record<string, { name: string; keyLen: number }> = {
  '2.16.840.1.101.3.4.1.2': { name: 'aes-128-cbc', keyLen: 16 },
  '2.16.840.1.101.3.4.1.22': { name: 'aes-192-cbc', keyLen: 24 },
  '2.16.840.1.101.3.4.1.42': { name: 'aes-256-cbc', keyLen: 32 },
  '1.2.840.113549.3.7': { name: 'des-ede3-cbc', keyLen: 24 },
}

/** RFC 7292 appendix B.2: the PKCS#12 key derivation (used by the MAC and the legacy PBE schemes). */
export function pkcs12Kdf(
  password: string,
  salt: Buffer,
  id: number,
  iterations: number,
  n: number,
  hash = 'sha1',
  v = 64,
): Buffer {
  const pw = Buffer.alloc(password.length * 2 + 2)
  for (let i = 0; i < password.length; i++) pw.writeUInt16BE(password.charCodeAt(i), i * 2)
  const fill = (src: Buffer): Buffer => {
    if (src.length === 0) return Buffer.alloc(0)
    const out = Buffer.alloc(v * Math.ceil(src.length / v))
    for (let i = 0; i < out.length; i++) out[i] = src[i % src.length]
    return out
  }
  const I = Buffer.concat([fill(salt), fill(pw)])
  const D = Buffer.alloc(v, id)
  const out: Buffer[] = []
  let have = 0
  while (have < n) {
    let A = crypto.createHash(hash).update(D).update(I).digest()
    for (let i = 1; i < iterations; i++) A = crypto.createHash(hash).update(A).digest()
    out.push(A)
    have += A.length
    const B = Buffer.alloc(v)
    for (let i = 0; i < v; i++) B[i] = A[i % A.length]
    for (let j = 0; j < I.length; j += v) {
      let carry = 1
      for (let k = v - 1; k >= 0; k--) {
        const sum = I[j + k] + B[k] + carry
        I[j + k] = sum & 0xff
        carry = sum >> 8
      }
    }
  }
  return Buffer.concat(out).subarray(0, n)
}

export interface Pkcs12Contents {
  /** Every certificate bag, as PEM (for a truststore: the trusted certificates). */
  certificatesPem: string[]
  /** Whether a key bag is present (a keystore) — its content is never decrypted here. */
  hasKey: boolean
}

class WrongPassword extends Error {}

/**
 * Read a PKCS#12 file's certificates. `what` names the store for errors (`sslContext trustStore
 * /etc/x/trust.p12`). Throws TLS_KEYSTORE_INVALID: wrong password, damaged file, unsupported encryption.
 */
export function readPkcs12(bytes: Uint8Array, password: string, what: string): Pkcs12Contents {
  const der = new Der(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength))
  try {
    const pfx = der.children(der.expect(der.read(0), 0x30, 'PFX SEQUENCE'))
    const authSafe = der.children(der.expect(pfx[1], 0x30, 'authSafe ContentInfo'))
    if (der.oid(authSafe[0]) !== OID.data)
      throw new Error('authSafe is not of type data (public-key integrity mode is not supported)')
    const authBytes = der.octets(der.children(der.expect(authSafe[1], 0xa0, '[0] content'))[0])
    if (pfx[2]) verifyMac(der, pfx[2], authBytes, password)
    const out: Pkcs12Contents = { certificatesPem: [], hasKey: false }
    const inner = new Der(authBytes)
    for (const ci of inner.children(inner.expect(inner.read(0), 0x30, 'AuthenticatedSafe'))) {
      const [type, content] = inner.children(ci)
      const explicit = inner.children(inner.expect(content, 0xa0, '[0] content'))[0]
      const oid = inner.oid(type)
      if (oid === OID.data) readSafeContents(inner.octets(explicit), out)
      else if (oid === OID.encryptedData) readSafeContents(decryptEncryptedData(inner, explicit, password), out)
      else throw new Error(`content type ${oid} is not supported`)
    }
    return out
  } catch (e) {
    if (e instanceof WrongPassword) {
      throw new BrokerError(
        'TLS_KEYSTORE_INVALID',
        `${what}: the password does not open it (PKCS#12 integrity check failed); expected the store's password`,
      )
    }
    if (e instanceof BrokerError) throw e
    throw new BrokerError(
      'TLS_KEYSTORE_INVALID',
      `${what}: not a readable PKCS#12 file (${(e as Error).message}); expected a .p12/.pfx store`,
    )
  }
}

function verifyMac(der: Der, macData: Tlv, authBytes: Buffer, password: string): void {
  const [digestInfo, saltT, iterT] = der.children(macData)
  const [algId, digestT] = der.children(digestInfo)
  const algOid = der.oid(der.children(algId)[0])
  const hash = HASHES[algOid]
  if (!hash) throw new Error(`MAC algorithm ${algOid} is not supported`)
  const iterations = iterT ? der.int(iterT) : 1
  const expected = der.octets(digestT)
  const key = pkcs12Kdf(password, der.octets(saltT), 3, iterations, expected.length, hash.name, hash.block)
  const got = crypto.createHmac(hash.name, key).update(authBytes).digest()
  if (got.length !== expected.length || !crypto.timingSafeEqual(got, expected)) throw new WrongPassword()
}

function decryptEncryptedData(der: Der, encryptedData: Tlv, password: string): Buffer {
  const [, eci] = der.children(encryptedData)
  const [, algId, encrypted] = der.children(eci)
  // [0] IMPLICIT OCTET STRING: primitive (0x80) or constructed (0xa0).
  const cipherText =
    encrypted.tag === 0x80 ? der.bytes(encrypted) : Buffer.concat(der.children(encrypted).map((c) => der.octets(c)))
  return decrypt(der, algId, cipherText, password)
}

function decrypt(der: Der, algId: Tlv, cipherText: Buffer, password: string): Buffer {
  const [oidT, params] = der.children(algId)
  const oid = der.oid(oidT)
  let name: string
  let key: Buffer
  let iv: Buffer
  if (oid === OID.pbes2) {
    const [kdf, enc] = der.children(params)
    const [kdfOid, kdfParams] = der.children(kdf)
    if (der.oid(kdfOid) !== OID.pbkdf2) throw new Error(`key derivation ${der.oid(kdfOid)} is not supported`)
    const kp = der.children(kdfParams)
    const salt = der.octets(kp[0])
    const iterations = der.int(kp[1])
    let prf = 'sha1'
    for (const extra of kp.slice(2)) {
      if (extra.tag === 0x30) {
        const prfOid = der.oid(der.children(extra)[0])
        if (!HMACS[prfOid]) throw new Error(`PBKDF2 PRF ${prfOid} is not supported`)
        prf = HMACS[prfOid]
      }
    }
    const [encOid, ivT] = der.children(enc)
    const c = CIPHERS[der.oid(encOid)]
    if (!c) throw new Error(`encryption ${der.oid(encOid)} is not supported`)
    name = c.name
    iv = der.octets(ivT)
    key = crypto.pbkdf2Sync(Buffer.from(password, 'utf8'), salt, iterations, c.keyLen, prf)
  } else if (oid === OID.pbeSha3Des) {
    const [saltT, iterT] = der.children(params)
    const salt = der.octets(saltT)
    const iterations = der.int(iterT)
    name = 'des-ede3-cbc'
    key = pkcs12Kdf(password, salt, 1, iterations, 24)
    iv = pkcs12Kdf(password, salt, 2, iterations, 8)
  } else if (oid === OID.pbeShaRc2_40) {
    throw new Error(
      'it is encrypted with 40-bit RC2 (an old default); re-export it with AES: openssl pkcs12 -export -certpbe AES-256-CBC -keypbe AES-256-CBC ...',
    )
  } else {
    throw new Error(`encryption ${oid} is not supported`)
  }
  try {
    const d = crypto.createDecipheriv(name, key, iv)
    return Buffer.concat([d.update(cipherText), d.final()])
  } catch {
    // No MAC to tell us (rare), and the padding is wrong: the usual sign of a wrong password.
    throw new WrongPassword()
  }
}

function readSafeContents(bytes: Buffer, out: Pkcs12Contents): void {
  const der = new Der(bytes)
  for (const bag of der.children(der.expect(der.read(0), 0x30, 'SafeContents'))) {
    const [idT, valueT] = der.children(bag)
    const id = der.oid(idT)
    const value = der.children(der.expect(valueT, 0xa0, '[0] bagValue'))[0]
    if (id === OID.keyBag || id === OID.shroudedKeyBag) out.hasKey = true
    else if (id === OID.safeContentsBag)
      readSafeContents(der.bytes({ ...value, start: value.start - headerLength(der, value), end: value.end }), out)
    else if (id === OID.certBag) {
      const [typeT, certT] = der.children(value)
      if (der.oid(typeT) !== OID.x509Certificate) continue
      const certDer = der.octets(der.children(der.expect(certT, 0xa0, '[0] certValue'))[0])
      out.certificatesPem.push(toPem(certDer))
    }
  }
}

function headerLength(der: Der, t: Tlv): number {
  // Re-read the header in front of t.start to hand a complete TLV to a nested parser.
  for (let h = 2; h <= 6; h++) {
    try {
      const r = der.read(t.start - h)
      if (r.start === t.start && r.end === t.end) return h
    } catch {
      /* try a longer header */
    }
  }
  throw new Error('bad nested SafeContents')
}

function toPem(certDer: Buffer): string {
  const b64 = certDer.toString('base64').replace(/.{1,64}/g, '$&\n')
  return `-----BEGIN CERTIFICATE-----\n${b64}-----END CERTIFICATE-----\n`
}
