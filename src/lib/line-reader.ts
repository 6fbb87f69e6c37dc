/**
 * Splits a child process's output stream into lines as they arrive (UTF-8, '\n'-separated, the '\n' not included).
 * Shared by the parents of JSON-line children (lock probe children, election fixtures, the chaos harness) so each
 * does not grow its own buffer logic. A line longer than lineCharsMax without a newline is dropped rather than
 * buffered without bound; a last line without a newline is delivered when the stream ends.
 */
import type { Readable } from 'node:stream'

export interface LineReaderOptions {
  /** Most characters buffered for one line; a longer unterminated line is dropped. Default 1 MiB. */
  lineCharsMax?: number
}

export function readLines(stream: Readable, onLine: (line: string) => void, opts: LineReaderOptions = {}): void {
  const max = opts.lineCharsMax ?? 1 << 20
  let buf = ''
  stream.setEncoding('utf8')
  stream.on('data', (d: string) => {
    buf += d
    let i: number
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i)
      buf = buf.slice(i + 1)
      onLine(line)
    }
    if (buf.length > max) buf = ''
  })
  stream.on('end', () => {
    if (buf !== '') onLine(buf)
    buf = ''
  })
}

/** `JSON.parse(line)` as an object, or undefined for a line that is not one (a log line, a partial write). */
export function parseJsonLine<T extends object>(line: string): T | undefined {
  if (!line.startsWith('{')) return undefined
  try {
    return JSON.parse(line) as T
  } catch {
    return undefined
  }
}
