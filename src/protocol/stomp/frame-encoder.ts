/**
 * Frame encoder: turns a server frame (CONNECTED, MESSAGE, RECEIPT, ERROR) into bytes for one STOMP version.
 * Owns header escaping on the way out (STOMP 1.2 "Value Encoding") and `content-length`: every frame with a
 * body carries it, so bodies containing NUL bytes survive and clients read binary bodies exactly.
 * 1.0 has no escaping at all, so a CR or LF inside a 1.0 header value would end the line early: it is
 * replaced by a space there (the only lossless-enough choice a 1.0 client can read).
 */
import { isUnescapedCommand, type StompVersion } from './frame.ts'

const BREAKS = /[\r\n]/g
const HAS_BREAK = /[\r\n]/

/**
 * STOMP 1.1/1.2 value encoding: `\` `\n` `:` (and in 1.2 `\r`) as `\\` `\n` `\c` `\r`. A loop over char codes, not
 * a regex replace with a callback: every MESSAGE's message-id (`ID:…`) has a colon, and the replace path cost ~3×.
 */
export function escapeHeader(text: string, version: StompVersion): string {
  if (version === '1.0') return stripBreaks(text)
  const cr = version === '1.2'
  let out = ''
  let from = 0
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    let rep: string
    if (c === 58) rep = '\\c'
    else if (c === 92) rep = '\\\\'
    else if (c === 10) rep = '\\n'
    else if (c === 13 && cr) rep = '\\r'
    else continue
    out += text.slice(from, i) + rep
    from = i + 1
  }
  return from === 0 ? text : out + text.slice(from)
}

/** Header order is kept; `content-length` given by the caller is replaced by the real body length. */
export function encodeFrame(
  command: string,
  headers: Record<string, string> | Array<[string, string]>,
  body: Uint8Array | null,
  version: StompVersion,
): Buffer {
  return frameBytes(frameHead(command, headers, body, version), body)
}

/**
 * A frame from its head (command line, header lines, the blank line; as frameHead writes it) and body: one
 * allocation, head, body and NUL written in place. For encoders that build the head themselves (MESSAGE).
 */
export function frameBytes(head: string, body: Uint8Array | null): Buffer {
  const hasBody = body !== null && body.length > 0
  const headLength = Buffer.byteLength(head, 'utf8')
  const bodyLength = hasBody ? body.length : 0
  const out = Buffer.allocUnsafe(headLength + bodyLength + 1)
  out.write(head, 0, 'utf8')
  if (hasBody) out.set(body, headLength)
  out[headLength + bodyLength] = 0
  return out
}

/**
 * The bytes of encodeFrame as [head, body, NUL], the body not copied: for large bodies, whose copy into a fresh
 * buffer would cost the event loop a page fault per 4 KiB at once (see StompConnection's output pump).
 */
export function encodeFrameParts(
  command: string,
  headers: Record<string, string> | Array<[string, string]>,
  body: Uint8Array,
  version: StompVersion,
): Buffer[] {
  return frameParts(frameHead(command, headers, body, version), body)
}

/** frameBytes as [head, body, NUL], the body not copied (see encodeFrameParts). */
export function frameParts(head: string, body: Uint8Array): Buffer[] {
  const b = Buffer.from(body.buffer, body.byteOffset, body.byteLength)
  return [Buffer.from(head, 'utf8'), b, Buffer.from([0])]
}

function frameHead(
  command: string,
  headers: Record<string, string> | Array<[string, string]>,
  body: Uint8Array | null,
  version: StompVersion,
): string {
  const raw = isUnescapedCommand(command)
  let head = command + '\n'
  const entries = Array.isArray(headers) ? headers : Object.entries(headers)
  for (const [name, value] of entries) {
    if (name === 'content-length') continue
    head += raw
      ? `${stripBreaks(name)}:${stripBreaks(value)}\n`
      : `${escapeHeader(name, version)}:${escapeHeader(value, version)}\n`
  }
  const hasBody = body !== null && body.length > 0
  if (hasBody || command === 'MESSAGE' || command === 'ERROR') head += `content-length:${body ? body.length : 0}\n`
  head += '\n'
  return head
}

function stripBreaks(text: string): string {
  return HAS_BREAK.test(text) ? text.replace(BREAKS, ' ') : text
}
