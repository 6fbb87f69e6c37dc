/**
 * Reads a JSON config: the input model of schema.ts written as is (README "Configuration" shows it beside the
 * XML). Only syntax is checked here, with the line and column of a syntax error; the schema judges the rest
 * and errors name the JSON path (`transportConnectors[0].uri`).
 */
import { BrokerError } from '../lib/errors.ts'
import { Locator } from './origin.ts'

export function readJsonConfig(text: string, file: string): { input: unknown; locator: Locator } {
  let input: unknown
  try {
    input = JSON.parse(text)
  } catch (e) {
    throw new BrokerError(
      'CONFIG_INVALID',
      `${file}: ${describeSyntaxError(text, (e as Error).message)}; expected a JSON object`,
      { cause: e },
    )
  }
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    throw new BrokerError(
      'CONFIG_INVALID',
      `${file}: top level is ${Array.isArray(input) ? 'an array' : JSON.stringify(input)}; expected a JSON object`,
    )
  }
  return { input, locator: new Locator(file, 'json') }
}

/** Runtimes word JSON errors differently; add line:column when a character position is given. */
function describeSyntaxError(text: string, message: string): string {
  const pos = /position (\d+)/.exec(message)
  if (!pos) return `invalid JSON (${message})`
  const offset = Number(pos[1])
  const before = text.slice(0, offset)
  const line = before.split('\n').length
  const column = offset - before.lastIndexOf('\n')
  return `line ${line} column ${column}: invalid JSON (${message})`
}
