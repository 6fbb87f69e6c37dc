/**
 * valibot issues → the BrokerError a user reads: the first problem in the file (XML: lowest line), named by
 * file:line, JSON path or flag, with what was found and what was expected; unknown keys get "did you mean", and
 * ActiveMQ settings sfbroker lacks get CONFIG_UNSUPPORTED (unsupported.ts).
 */
import type * as v from 'valibot'
import { BrokerError } from '../lib/errors.ts'
import { Locator, type PathItem } from './origin.ts'
import { keysAt } from './schema.ts'
import { UNSUPPORTED, unsupportedContext } from './unsupported.ts'
import { didYouMean } from './suggest.ts'

type Issue = v.BaseIssue<unknown>

function issuePath(issue: Issue): PathItem[] {
  return (issue.path ?? []).map((p) => p.key as PathItem)
}

/** The issue to report: the first in the file (XML: lowest line; JSON: schema order), as a BrokerError. */
export function firstIssue(issues: readonly Issue[], locator: Locator): BrokerError {
  const sorted = [...issues].sort((a, b) => locator.line(issuePath(a)) - locator.line(issuePath(b)))
  const err = issueToError(sorted[0], locator)
  if (sorted.length > 1) {
    const more = sorted.slice(1).map((i) => issueToError(i, locator).message)
    return new BrokerError(err.code, `${err.message} (and ${more.length} more problem${more.length > 1 ? 's' : ''})`, {
      details: { more },
    })
  }
  return err
}

function issueToError(issue: Issue, locator: Locator): BrokerError {
  const p = issuePath(issue)
  const xml = locator.format === 'xml'
  if (issue.type === 'strict_object' && issue.expected === 'never') {
    // A key the schema does not know.
    const key = String(p[p.length - 1])
    const parent = p.slice(0, -1)
    const origin = locator.origin(p)
    const isAttribute = origin?.attribute !== undefined
    const what = xml ? (isAttribute ? `attribute "${key}"` : `element <${key}>`) : `key "${key}"`
    if (UNSUPPORTED[unsupportedContext(parent)]?.includes(key)) {
      const place = xml
        ? `${locator.file}:${origin?.line ?? locator.line(parent)}: <${locator.origin(parent)?.element ?? 'broker'}>`
        : locator.container(parent)
      return new BrokerError(
        'CONFIG_UNSUPPORTED',
        `${place}: ${what} is an ActiveMQ setting sfbroker does not support yet`,
      )
    }
    const place = xml
      ? `${locator.file}:${origin?.line ?? locator.line(parent)}: <${locator.origin(parent)?.element ?? 'broker'}>`
      : locator.container(parent)
    const hint = didYouMean(key, keysAt(parent))
    return new BrokerError(
      'CONFIG_INVALID',
      `${place} has unknown ${what}${hint || `; expected one of ${keysAt(parent).join(', ')}`}`,
    )
  }
  if (issue.type === 'strict_object' && issue.kind === 'schema' && issue.expected?.startsWith('"')) {
    // A required key is missing.
    const key = String(p[p.length - 1])
    const what = xml ? `attribute "${key}"` : `key "${key}"`
    return new BrokerError(
      'CONFIG_INVALID',
      `${locator.container(p.slice(0, -1))}: ${what} is missing; expected it to be set`,
    )
  }
  if (issue.kind === 'schema' && (issue.type === 'strict_object' || issue.type === 'array')) {
    const expected = issue.type === 'array' ? 'a list' : xml ? 'an element' : 'an object'
    return new BrokerError(
      'CONFIG_INVALID',
      `${locator.at(p)}: found ${Locator.found(issue.input)}, expected ${expected}`,
    )
  }
  if (
    xml &&
    locator.origin(p)?.attribute === undefined &&
    locator.origin(p)?.element !== undefined &&
    locator.origin(p)?.flag === undefined
  ) {
    // An element where the schema wants an attribute value, e.g. <kahaDB><directory>…</directory></kahaDB>.
    const key = String(p[p.length - 1])
    return new BrokerError(
      'CONFIG_INVALID',
      `${locator.at(p)}: "${key}" is an attribute in sfbroker config; expected ${key}="..." on <${locator.origin(p.slice(0, -1))?.element ?? 'broker'}>`,
    )
  }
  return new BrokerError(
    'CONFIG_INVALID',
    `${locator.at(p)}: found ${Locator.found(issue.input)}, expected ${issue.expected ?? issue.message}`,
  )
}
