/**
 * WireFormatInfo: the first command each side sends (always loose and size-prefixed), its properties read into
 * typed settings, the broker's own offer, and the negotiation (ActiveMQ's OpenWireFormat.renegotiateWireFormat
 * and the inactivity monitor's rule): version and maxFrameSize take the smaller positive value, every boolean
 * is the AND of both sides, the inactivity duration the smaller value (0 turns the monitor off). sfbroker
 * offers tight encoding and the marshal cache as false, so they always negotiate off; a result outside what
 * the codec implements is refused with OPENWIRE_UNSUPPORTED rather than half-used.
 */
import { BrokerError } from '../../lib/errors.ts'
import type { WireFormatInfo } from './commands.ts'
import type { Primitive, PrimitiveMap } from './primitive-map.ts'

/** "ActiveMQ" in ASCII: the magic every WireFormatInfo starts with. */
export const OPENWIRE_MAGIC = new Uint8Array([0x41, 0x63, 0x74, 0x69, 0x76, 0x65, 0x4d, 0x51])
/** The newest version this codec speaks (what the 5.17 client offers by default). */
export const OPENWIRE_VERSION_MAX = 12
/** The oldest version whose layouts equal v12's for every structure in layouts.ts. */
export const OPENWIRE_VERSION_MIN = 10

export type WireFormatSettings = {
  version: number
  stackTraceEnabled: boolean
  tcpNoDelayEnabled: boolean
  cacheEnabled: boolean
  cacheSize: number
  tightEncodingEnabled: boolean
  sizePrefixDisabled: boolean
  /** 0 = the peer runs no inactivity monitor. */
  maxInactivityDurationMs: number
  maxInactivityDurationInitialDelayMs: number
  /** Java's Long.MAX_VALUE ("no limit") reads as Number.MAX_SAFE_INTEGER. */
  maxFrameSize: number
  providerName: string | null
  providerVersion: string | null
  platformDetails: string | null
  host: string | null
}

/** What a peer that sends no property means (the Java defaults of WireFormatInfo's getters). */
const ABSENT = {
  stackTraceEnabled: false,
  tcpNoDelayEnabled: false,
  cacheEnabled: false,
  cacheSize: 0,
  tightEncodingEnabled: false,
  sizePrefixDisabled: false,
  maxInactivityDurationMs: 0,
  maxInactivityDurationInitialDelayMs: 0,
  maxFrameSize: Number.MAX_SAFE_INTEGER,
}

function invalid(what: string, found: string, expected: string): BrokerError {
  return new BrokerError(
    'OPENWIRE_FRAME_INVALID',
    `openwire WireFormatInfo ${what}: found ${found}, expected ${expected}`,
  )
}

function describe(p: Primitive): string {
  return p.kind === 'long' || p.kind === 'int' ? `${p.kind} ${p.value}` : p.kind
}

/** Reads and checks a peer's WireFormatInfo: the magic, the version and every property sfbroker uses. */
export function readWireFormatSettings(info: WireFormatInfo): WireFormatSettings {
  if (info.magic.length !== 8 || !info.magic.every((b, i) => b === OPENWIRE_MAGIC[i]))
    throw invalid('magic', JSON.stringify(new TextDecoder().decode(info.magic)), '"ActiveMQ"')
  if (info.version <= 0) throw invalid('version', String(info.version), 'a positive version')
  const props = info.properties ?? new Map<string, Primitive>()
  const bool = (key: string, dflt: boolean): boolean => {
    const p = props.get(key)
    if (p === undefined) return dflt
    if (p.kind !== 'boolean') throw invalid(`property ${key}`, describe(p), 'a boolean')
    return p.value
  }
  const num = (key: string, kind: 'long' | 'int', dflt: number): number => {
    const p = props.get(key)
    if (p === undefined) return dflt
    if (p.kind !== kind) throw invalid(`property ${key}`, describe(p), `a ${kind}`)
    const v = Number(p.value)
    if (v < 0) throw invalid(`property ${key}`, String(p.value), 'a value >= 0')
    return Math.min(v, Number.MAX_SAFE_INTEGER)
  }
  const str = (key: string): string | null => {
    const p = props.get(key)
    if (p === undefined || p.kind === 'null') return null
    if (p.kind !== 'string') throw invalid(`property ${key}`, describe(p), 'a string')
    return p.value
  }
  return {
    version: info.version,
    stackTraceEnabled: bool('StackTraceEnabled', ABSENT.stackTraceEnabled),
    tcpNoDelayEnabled: bool('TcpNoDelayEnabled', ABSENT.tcpNoDelayEnabled),
    cacheEnabled: bool('CacheEnabled', ABSENT.cacheEnabled),
    cacheSize: num('CacheSize', 'int', ABSENT.cacheSize),
    tightEncodingEnabled: bool('TightEncodingEnabled', ABSENT.tightEncodingEnabled),
    sizePrefixDisabled: bool('SizePrefixDisabled', ABSENT.sizePrefixDisabled),
    maxInactivityDurationMs: num('MaxInactivityDuration', 'long', ABSENT.maxInactivityDurationMs),
    maxInactivityDurationInitialDelayMs: num(
      'MaxInactivityDurationInitalDelay',
      'long',
      ABSENT.maxInactivityDurationInitialDelayMs,
    ),
    maxFrameSize: num('MaxFrameSize', 'long', ABSENT.maxFrameSize),
    providerName: str('ProviderName'),
    providerVersion: str('ProviderVersion'),
    platformDetails: str('PlatformDetails'),
    host: str('Host'),
  }
}

export type BrokerOffer = {
  /** Largest frame the broker accepts (bytes after the size prefix). */
  maxFrameSize: number
  maxInactivityDurationMs: number
  maxInactivityDurationInitialDelayMs: number
  /** Stack traces in ExceptionResponse and ConnectionError; off keeps the broker's internals private. */
  stackTraceEnabled: boolean
  tcpNoDelayEnabled: boolean
  providerName: string
  providerVersion: string
  platformDetails: string
}

/** The broker's WireFormatInfo: version 12, loose, uncached, size-prefixed. */
export function brokerWireFormatInfo(offer: BrokerOffer): WireFormatInfo {
  const p: PrimitiveMap = new Map<string, Primitive>([
    ['TcpNoDelayEnabled', { kind: 'boolean', value: offer.tcpNoDelayEnabled }],
    ['SizePrefixDisabled', { kind: 'boolean', value: false }],
    ['CacheSize', { kind: 'int', value: 0 }],
    ['ProviderName', { kind: 'string', value: offer.providerName }],
    ['StackTraceEnabled', { kind: 'boolean', value: offer.stackTraceEnabled }],
    ['PlatformDetails', { kind: 'string', value: offer.platformDetails }],
    ['CacheEnabled', { kind: 'boolean', value: false }],
    ['TightEncodingEnabled', { kind: 'boolean', value: false }],
    ['MaxFrameSize', { kind: 'long', value: BigInt(offer.maxFrameSize) }],
    ['MaxInactivityDuration', { kind: 'long', value: BigInt(offer.maxInactivityDurationMs) }],
    ['MaxInactivityDurationInitalDelay', { kind: 'long', value: BigInt(offer.maxInactivityDurationInitialDelayMs) }],
    ['ProviderVersion', { kind: 'string', value: offer.providerVersion }],
  ])
  return { type: 'WireFormatInfo', magic: OPENWIRE_MAGIC.slice(), version: OPENWIRE_VERSION_MAX, properties: p }
}

/** What both sides then use; the frame decoder and encoder take it as their options. */
export type NegotiatedFormat = {
  version: number
  stackTraceEnabled: boolean
  tcpNoDelayEnabled: boolean
  sizePrefixDisabled: boolean
  maxFrameSize: number
  /** 0 = no inactivity monitor; otherwise read-check period, with a KeepAliveInfo written every third of it. */
  maxInactivityDurationMs: number
  maxInactivityDurationInitialDelayMs: number
}

/** Java's OpenWireFormat.min: the smaller value, a value <= 0 counting as "no preference". */
function minPositive(a: number, b: number): number {
  return (a < b && a > 0) || b <= 0 ? a : b
}

export function negotiate(local: WireFormatSettings, remote: WireFormatSettings): NegotiatedFormat {
  const version = minPositive(local.version, remote.version)
  if (version < OPENWIRE_VERSION_MIN || version > OPENWIRE_VERSION_MAX)
    throw new BrokerError(
      'OPENWIRE_UNSUPPORTED',
      `openwire WireFormatInfo version: negotiated ${version}, expected ${OPENWIRE_VERSION_MIN}..${OPENWIRE_VERSION_MAX}`,
    )
  const cacheEnabled = local.cacheEnabled && remote.cacheEnabled
  const tight = local.tightEncodingEnabled && remote.tightEncodingEnabled
  if (cacheEnabled || tight)
    throw new BrokerError(
      'OPENWIRE_UNSUPPORTED',
      `openwire WireFormatInfo: negotiated ${cacheEnabled ? 'CacheEnabled' : 'TightEncodingEnabled'}=true, ` +
        'which this codec does not implement (offer false)',
    )
  return {
    version,
    stackTraceEnabled: local.stackTraceEnabled && remote.stackTraceEnabled,
    tcpNoDelayEnabled: local.tcpNoDelayEnabled && remote.tcpNoDelayEnabled,
    sizePrefixDisabled: local.sizePrefixDisabled && remote.sizePrefixDisabled,
    maxFrameSize: minPositive(local.maxFrameSize, remote.maxFrameSize),
    maxInactivityDurationMs: Math.min(local.maxInactivityDurationMs, remote.maxInactivityDurationMs),
    maxInactivityDurationInitialDelayMs: Math.min(
      local.maxInactivityDurationInitialDelayMs,
      remote.maxInactivityDurationInitialDelayMs,
    ),
  }
}
