/**
 * The selector lexer: a selector's text as tokens (strings, numbers, identifiers, keywords, operators), each with
 * its position, and the two errors every selector stage raises: BROKER_SELECTOR_INVALID naming the 1-based
 * position, BROKER_SELECTOR_TOO_COMPLEX naming the limit. The grammar is in ./selector-parser.ts.
 */
import { BrokerError } from '../lib/errors.ts'

export type Tok =
  | { t: 'str'; v: string; pos: number }
  | { t: 'num'; v: number; pos: number }
  | { t: 'id'; v: string; pos: number }
  | { t: 'kw'; v: string; pos: number }
  | { t: 'op'; v: string; pos: number }
  | { t: 'eof'; pos: number }

const KEYWORDS = new Set(['AND', 'OR', 'NOT', 'LIKE', 'ESCAPE', 'IN', 'BETWEEN', 'IS', 'NULL', 'TRUE', 'FALSE'])

export function tooComplex(selector: string, pos: number, what: string, limit: string, value: number): never {
  throw new BrokerError(
    'BROKER_SELECTOR_TOO_COMPLEX',
    `selector ${JSON.stringify(selector.length > 64 ? selector.slice(0, 64) + '…' : selector)}: ${what} at position ${pos + 1}, expected at most ${value} (${limit})`,
    {
      details: { position: pos + 1, limit },
    },
  )
}

export function fail(selector: string, pos: number, what: string): never {
  throw new BrokerError(
    'BROKER_SELECTOR_INVALID',
    `selector ${JSON.stringify(selector)}: ${what} at position ${pos + 1}`,
    {
      details: { selector, position: pos + 1 },
    },
  )
}

export function tokenize(src: string): Tok[] {
  const out: Tok[] = []
  let i = 0
  const n = src.length
  while (i < n) {
    const c = src[i]!
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r' || c === '\f') {
      i++
      continue
    }
    const start = i
    if (c === "'") {
      let v = ''
      i++
      for (;;) {
        if (i >= n) fail(src, start, 'unterminated string literal')
        const d = src[i]!
        if (d === "'") {
          if (src[i + 1] === "'") {
            v += "'"
            i += 2
            continue
          }
          i++
          break
        }
        v += d
        i++
      }
      out.push({ t: 'str', v, pos: start })
      continue
    }
    if (/[0-9]/.test(c) || (c === '.' && /[0-9]/.test(src[i + 1] ?? ''))) {
      const hex = /^0[xX][0-9a-fA-F]+[lL]?/.exec(src.slice(i))
      if (hex) {
        const text = hex[0].replace(/[lL]$/, '')
        out.push({ t: 'num', v: parseInt(text.slice(2), 16), pos: start })
        i += hex[0].length
      } else {
        const m =
          /^(?:[0-9]+\.[0-9]*(?:[eE][+-]?[0-9]+)?[fFdD]?|\.[0-9]+(?:[eE][+-]?[0-9]+)?[fFdD]?|[0-9]+[eE][+-]?[0-9]+[fFdD]?|[0-9]+[fFdD]|[0-9]+[lL]?)/.exec(
            src.slice(i),
          )!
        let text = m[0]
        i += text.length
        let v: number
        if (/^[0-9]+[lL]?$/.test(text)) {
          text = text.replace(/[lL]$/, '')
          // A leading 0 makes an octal literal (Java/ActiveMQ OCTAL_LITERAL).
          v =
            text.length > 1 && text[0] === '0'
              ? /^[0-7]+$/.test(text)
                ? parseInt(text, 8)
                : fail(src, start, `bad octal literal ${text}`)
              : Number(text)
        } else {
          v = Number(text.replace(/[fFdD]$/, ''))
        }
        out.push({ t: 'num', v, pos: start })
      }
      if (i < n && /[A-Za-z_$]/.test(src[i]!))
        fail(src, i, `unexpected character ${JSON.stringify(src[i])} after number`)
      continue
    }
    if (/[A-Za-z_$]/.test(c)) {
      while (i < n && /[A-Za-z0-9_$.]/.test(src[i]!)) i++
      const word = src.slice(start, i)
      const up = word.toUpperCase()
      out.push(KEYWORDS.has(up) ? { t: 'kw', v: up, pos: start } : { t: 'id', v: word, pos: start })
      continue
    }
    const two = src.slice(i, i + 2)
    if (two === '<>' || two === '<=' || two === '>=' || two === '!=' || two === '==') {
      out.push({ t: 'op', v: two, pos: start })
      i += 2
      continue
    }
    if ('=<>+-*/%(),'.includes(c)) {
      out.push({ t: 'op', v: c, pos: start })
      i++
      continue
    }
    fail(src, start, `unexpected character ${JSON.stringify(c)}`)
  }
  out.push({ t: 'eof', pos: n })
  return out
}
