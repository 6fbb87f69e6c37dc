/**
 * Frame encoder: turns a server frame (CONNECTED, MESSAGE, RECEIPT, ERROR) into bytes for one STOMP version.
 * Owns header escaping on the way out (STOMP 1.2 "Value Encoding") and `content-length`: every frame with a
 * body carries it, so bodies containing NUL bytes survive and clients read binary bodies exactly.
 * 1.0 has no escaping at all, so a CR or LF inside a 1.0 header value would end the line early: it is
 * replaced by a space there (the only lossless-enough choice a 1.0 client can read).
 */
import { isUnescapedCommand, type StompVersion } from './frame.ts'

// Global regexes are only used with replace() (which resets lastIndex); tests use the non-global twins.
const ESCAPE_11 = /[\\\n:]/g
const ESCAPE_12 = /[\\\n\r:]/g
const NEEDS_11 = /[\\\n:]/
const NEEDS_12 = /[\\\n\r:]/
const BREAKS = /[\r\n]/g
const HAS_BREAK = /[\r\n]/
const ESCAPES: Record<string, string> = { '\\': '\\\\', '\n': '\\n', '\r': '\\r', ':': '\\c' }

export function escapeHeader(text: string, version: StompVersion): string {
  if (version === '1.0') return stripBreaks(text)
  if (!(version === '1.2' ? NEEDS_12 : NEEDS_11).test(text)) return text
  return text.replace(version === '1.2' ? ESCAPE_12 : ESCAPE_11, (c) => ESCAPES[c])
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
