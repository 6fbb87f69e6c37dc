/**
 * JAAS `login.config` text → its entries, as Java's ConfigFile reads it:
 *
 *     activemq {
 *         org.apache.activemq.jaas.PropertiesLoginModule required
 *             org.apache.activemq.jaas.properties.user="users.properties"
 *             reload=true;
 *     };
 *
 * Comments `//`, `/* *\/` and `#` lines; option values quoted ("...", with \" and \\) or bare words. No I/O.
 * Throws CONFIG_INVALID naming `file:line`, what was found and what was expected.
 */
import { BrokerError } from '../lib/errors.ts'

export interface LoginModuleEntry {
  className: string
  flag: 'required' | 'requisite' | 'sufficient' | 'optional'
  options: Record<string, string>
  line: number
}

export type LoginConfig = Map<string, { modules: LoginModuleEntry[]; line: number }>

interface Token {
  text: string
  quoted: boolean
  line: number
}

const FLAGS = ['required', 'requisite', 'sufficient', 'optional'] as const

function tokenize(text: string, file: string): Token[] {
  const out: Token[] = []
  let line = 1
  let i = 0
  while (i < text.length) {
    const c = text[i]!
    if (c === '\n') {
      line++
      i++
    } else if (/\s/.test(c)) i++
    else if (c === '/' && text[i + 1] === '/') {
      while (i < text.length && text[i] !== '\n') i++
    } else if (c === '#') {
      while (i < text.length && text[i] !== '\n') i++
    } else if (c === '/' && text[i + 1] === '*') {
      const end = text.indexOf('*/', i + 2)
      if (end < 0) throw new BrokerError('CONFIG_INVALID', `${file}:${line}: comment /* is never closed; expected */`)
      for (let k = i; k < end; k++) if (text[k] === '\n') line++
      i = end + 2
    } else if (c === '"') {
      const start = line
      let s = ''
      i++
      while (i < text.length && text[i] !== '"') {
        if (text[i] === '\\' && i + 1 < text.length) i++
        if (text[i] === '\n') line++
        s += text[i]
        i++
      }
      if (i >= text.length)
        throw new BrokerError('CONFIG_INVALID', `${file}:${start}: quoted value is never closed; expected a closing "`)
      i++
      out.push({ text: s, quoted: true, line: start })
    } else if ('{};='.includes(c)) {
      out.push({ text: c, quoted: false, line })
      i++
    } else {
      let s = ''
      while (i < text.length && !/\s/.test(text[i]!) && !'{};="'.includes(text[i]!)) s += text[i++]
      out.push({ text: s, quoted: false, line })
    }
  }
  return out
}

export function parseLoginConfig(text: string, file: string): LoginConfig {
  const toks = tokenize(text, file)
  const out: LoginConfig = new Map()
  let i = 0
  const peek = (): Token | undefined => toks[i]
  const lastLine = (): number => toks[toks.length - 1]?.line ?? 1
  const expect = (what: string, ok: (t: Token) => boolean): Token => {
    const t = toks[i]
    if (!t || !ok(t)) {
      const found = t ? `"${t.text}"` : 'the end of the file'
      throw new BrokerError('CONFIG_INVALID', `${file}:${t?.line ?? lastLine()}: found ${found}, expected ${what}`)
    }
    i++
    return t
  }
  const isWord = (t: Token): boolean => t.quoted || !'{};='.includes(t.text)
  while (i < toks.length) {
    const name = expect('a login configuration name such as activemq', isWord)
    expect('"{"', (t) => !t.quoted && t.text === '{')
    const modules: LoginModuleEntry[] = []
    while (peek() && !(peek()!.text === '}' && !peek()!.quoted)) {
      const cls = expect('a login module class name', (t) => !t.quoted && isWord(t))
      const flag = expect(
        `a control flag (${FLAGS.join(', ')})`,
        (t) => !t.quoted && (FLAGS as readonly string[]).includes(t.text.toLowerCase()),
      )
      const options: Record<string, string> = Object.create(null)
      while (peek() && !(peek()!.text === ';' && !peek()!.quoted)) {
        const key = expect('an option name or ";"', (t) => !t.quoted && isWord(t))
        expect(`"=" after option ${key.text}`, (t) => !t.quoted && t.text === '=')
        const value = expect(`a value for option ${key.text}`, isWord)
        options[key.text] = value.text
      }
      expect('";" after the login module', (t) => !t.quoted && t.text === ';')
      modules.push({
        className: cls.text,
        flag: flag.text.toLowerCase() as LoginModuleEntry['flag'],
        options,
        line: cls.line,
      })
    }
    expect('"}"', (t) => !t.quoted && t.text === '}')
    expect('";" after "}"', (t) => !t.quoted && t.text === ';')
    if (out.has(name.text))
      throw new BrokerError(
        'CONFIG_INVALID',
        `${file}:${name.line}: login configuration "${name.text}" is defined twice; expected it once`,
      )
    out.set(name.text, { modules, line: name.line })
  }
  return out
}
