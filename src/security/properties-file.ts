/**
 * Java `.properties` text → ordered key/value pairs with line numbers, as ActiveMQ's users.properties and
 * groups.properties are written: `key=value`, `key: value` or `key value`; `#` and `!` comment lines; a trailing
 * backslash continues a line; `\t \n \r \f \uXXXX` escapes and `\x` for any other x. No I/O; never throws (Java
 * accepts any text too). Values are returned as written after unescaping: never log them (they hold passwords).
 */

export interface Property {
  key: string
  value: string
  /** 1-based line where the entry starts. */
  line: number
}

/** Most entries read from one file: a users file larger than this is refused by the caller. */
export const PROPERTIES_ENTRIES_MAX = 100_000

export function parseProperties(text: string): Property[] {
  const out: Property[] = []
  const lines = text.replace(/^\uFEFF/, '').split(/\r\n|\r|\n/)
  for (let i = 0; i < lines.length; i++) {
    const startLine = i + 1
    let logical = lines[i]!.replace(/^[ \t\f]+/, '')
    if (logical === '' || logical[0] === '#' || logical[0] === '!') continue
    // Continuation: an odd number of trailing backslashes joins the next line (its leading blanks dropped).
    while (endsWithOddBackslashes(logical) && i + 1 < lines.length) {
      logical = logical.slice(0, -1) + lines[++i]!.replace(/^[ \t\f]+/, '')
    }
    if (endsWithOddBackslashes(logical)) logical = logical.slice(0, -1)
    let k = 0
    while (k < logical.length) {
      const c = logical[k]!
      if (c === '\\') {
        k += 2
        continue
      }
      if (c === '=' || c === ':' || c === ' ' || c === '\t' || c === '\f') break
      k++
    }
    const rawKey = logical.slice(0, k)
    let v = k
    while (v < logical.length && /[ \t\f]/.test(logical[v]!)) v++
    if (v < logical.length && (logical[v] === '=' || logical[v] === ':')) v++
    while (v < logical.length && /[ \t\f]/.test(logical[v]!)) v++
    out.push({ key: unescape(rawKey), value: unescape(logical.slice(v)), line: startLine })
  }
  return out
}

function endsWithOddBackslashes(s: string): boolean {
  let n = 0
  for (let i = s.length - 1; i >= 0 && s[i] === '\\'; i--) n++
  return n % 2 === 1
}

function unescape(s: string): string {
  if (!s.includes('\\')) return s
  let out = ''
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!
    if (c !== '\\' || i + 1 >= s.length) {
      out += c
      continue
    }
    const n = s[++i]!
    if (n === 't') out += '\t'
    else if (n === 'n') out += '\n'
    else if (n === 'r') out += '\r'
    else if (n === 'f') out += '\f'
    else if (n === 'u' && /^[0-9a-fA-F]{4}$/.test(s.slice(i + 1, i + 5))) {
      out += String.fromCharCode(parseInt(s.slice(i + 1, i + 5), 16))
      i += 4
    } else out += n
  }
  return out
}
