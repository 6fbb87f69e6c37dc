/**
 * The `<admin>` element's checks that span settings: its group lists (against each other and the authentication
 * plugins) and its TLS (own key material, else the broker's `<sslContext>`, only with ssl="true").
 */
import { BrokerError } from '../lib/errors.ts'
import type { Locator } from './origin.ts'
import type { ConfigInput } from './schema.ts'
import type { SslContextConfig } from './types.ts'
import { DEFAULTS } from './defaults.ts'
import { hasKeyMaterial, resolveSslContext } from './ssl-context.ts'

/** A group name of `<admin groups|readOnlyGroups>`: no blanks, commas or control characters; "*" = every user. */
const GROUP_NAME = /^[^\s,\u0000-\u001f]+$/

/**
 * `<admin groups readOnlyGroups>` as lists. Each is a comma list of group names (empty entries refused, so a typo
 * like "admins,,ops" is not silently read). A group may not be in both lists (which would it be?), and
 * readOnlyGroups needs an authentication plugin: without one nobody logs in and it would do nothing.
 */
export function adminGroups(input: ConfigInput, locator: Locator): { groups?: string[]; readOnlyGroups?: string[] } {
  const a = input.admin!
  const list = (key: 'groups' | 'readOnlyGroups'): string[] | undefined => {
    const raw = a[key]
    if (raw === undefined) return undefined
    const names = raw.split(',').map((g) => g.trim())
    const bad = names.find((g) => !GROUP_NAME.test(g))
    if (bad !== undefined)
      throw new BrokerError(
        'CONFIG_INVALID',
        `${locator.at(['admin', key])}: found ${JSON.stringify(raw)}, expected a comma list of group names without blanks inside, e.g. "${key === 'groups' ? 'admins' : 'monitors,ops'}"${bad === '' ? ' (an empty name)' : ''}`,
      )
    return names
  }
  const groups = list('groups')
  const readOnlyGroups = list('readOnlyGroups')
  if (readOnlyGroups) {
    const both = readOnlyGroups.find((g) => (groups ?? [DEFAULTS.adminGroups]).includes(g))
    if (both !== undefined)
      throw new BrokerError(
        'CONFIG_INVALID',
        `${locator.at(['admin', 'readOnlyGroups'])}: group "${both}" is also an admin group (groups="${(groups ?? [DEFAULTS.adminGroups]).join(',')}"); expected each group in one of the two lists`,
      )
    const p = input.plugins
    if (!p?.simpleAuthenticationPlugin && !p?.jaasAuthenticationPlugin) {
      throw new BrokerError(
        'CONFIG_INVALID',
        `${locator.at(['admin', 'readOnlyGroups'])}: no authentication plugin is configured, so nobody logs in to the admin listener; expected <simpleAuthenticationPlugin> or <jaasAuthenticationPlugin> in <plugins>, or no readOnlyGroups`,
      )
    }
  }
  return { ...(groups ? { groups } : {}), ...(readOnlyGroups ? { readOnlyGroups } : {}) }
}

/** The admin endpoint's TLS: its own keyStore/keyFile when given, else the broker's `<sslContext>`; only with ssl="true". */
export function resolveAdminTls(
  a: NonNullable<ConfigInput['admin']>,
  broker: SslContextConfig | null,
  locator: Locator,
  abs: (p: string) => string,
): SslContextConfig | null {
  const own = a.keyStore !== undefined || a.keyFile !== undefined || a.certFile !== undefined
  if (a.ssl !== true) {
    if (own)
      throw new BrokerError(
        'CONFIG_INVALID',
        `${locator.at(['admin', a.keyStore !== undefined ? 'keyStore' : a.keyFile !== undefined ? 'keyFile' : 'certFile'])}: key attributes without ssl="true"; expected ssl="true" to serve HTTPS`,
      )
    return null
  }
  if (own) {
    const { keyStore, keyStorePassword, keyFile, certFile, keyPassword } = a
    return resolveSslContext({ keyStore, keyStorePassword, keyFile, certFile, keyPassword }, ['admin'], locator, abs)
  }
  if (broker === null || !hasKeyMaterial(broker)) {
    throw new BrokerError(
      'CONFIG_INVALID',
      `${locator.at(['admin', 'ssl'])}: ssl="true" but there is no key: expected keyStore (or keyFile + certFile) on <admin>, or an <sslContext> with one`,
    )
  }
  return broker
}
