/**
 * The input model of `<plugins>` (JSON: `plugins`): the security plugins sfbroker implements, with ActiveMQ's
 * element and attribute names. XML shapes (list elements, Spring nesting) are the XML reader's; what the values
 * mean and how they combine is security-config.ts's. Passwords become Secrets here, so no error or log prints them.
 */
import * as v from 'valibot'
import { Secret } from './secret.ts'
import { BOOLEAN_EXPECTED, parseBoolean, parseText } from './values.ts'
import { leaf } from './leaf.ts'

const bool = v.optional(leaf(BOOLEAN_EXPECTED, parseBoolean))
const text = v.optional(leaf('a non-empty single-line string', (x) => parseText(x)))
/** A group list as ActiveMQ writes it: "admins,users" (blanks around names dropped); empty = nobody. */
const groups = v.optional(
  leaf('a comma-separated list of group names, e.g. "admins,users"', (x) =>
    typeof x === 'string' && !/[\u0000-\u001f]/.test(x) ? x : undefined,
  ),
)
/** Any string: the value itself is never quoted back (it may be a password). */
const password = leaf('a string (the password, plain or a scrypt$ hash)', (x) =>
  typeof x === 'string' ? new Secret(x) : undefined,
)

export const authenticationUserSchema = v.strictObject({
  username: leaf('a non-empty user name', (x) => parseText(x, 256)),
  password,
  groups,
})

export const authorizationEntrySchema = v.strictObject({
  queue: text,
  topic: text,
  read: groups,
  write: groups,
  admin: groups,
  /** Only ActiveMQ's default GroupPrincipal (security-config.ts refuses any other class). */
  groupClass: text,
})

const tempEntrySchema = v.strictObject({ read: groups, write: groups, admin: groups, groupClass: text })

export const pluginsSchema = v.strictObject({
  simpleAuthenticationPlugin: v.optional(
    v.strictObject({
      anonymousAccessAllowed: bool,
      anonymousUser: text,
      anonymousGroup: text,
      users: v.optional(v.array(authenticationUserSchema)),
    }),
  ),
  jaasAuthenticationPlugin: v.optional(
    v.strictObject({
      configuration: text,
      /** sfbroker extension: the login.config file (default: login.config beside the config file). */
      loginConfig: text,
    }),
  ),
  authorizationPlugin: v.optional(
    v.strictObject({
      map: v.optional(
        v.strictObject({
          authorizationMap: v.optional(
            v.strictObject({
              authorizationEntries: v.optional(v.array(authorizationEntrySchema)),
              defaultEntry: v.optional(v.strictObject({ authorizationEntry: v.optional(authorizationEntrySchema) })),
              tempDestinationAuthorizationEntry: v.optional(tempEntrySchema),
              groupClass: text,
            }),
          ),
        }),
      ),
    }),
  ),
})

export type PluginsInput = v.InferOutput<typeof pluginsSchema>
export type AuthorizationEntryInput = v.InferOutput<typeof authorizationEntrySchema>

/** ActiveMQ plugins sfbroker knows and does not implement (CONFIG_UNSUPPORTED rather than "unknown"). */
export const PLUGINS_UNSUPPORTED: readonly string[] = [
  'jaasCertificateAuthenticationPlugin',
  'jaasDualAuthenticationPlugin',
  'simpleAuthorizationPlugin',
  'loggingBrokerPlugin',
  'statisticsBrokerPlugin',
  'timeStampingBrokerPlugin',
  'redeliveryPlugin',
  'runtimeConfigurationPlugin',
  'traceBrokerPathPlugin',
  'discardingDLQBrokerPlugin',
  'forcePersistencyModeBrokerPlugin',
  'destinationsPlugin',
  'connectionDotFilePlugin',
  'multicastTraceBrokerPlugin',
  'udpTraceBrokerPlugin',
  'virtualSelectorCacheBrokerPlugin',
  'camelRoutesBrokerPlugin',
  'partitionBrokerPlugin',
  'destinationPathSeparatorPlugin',
  'brokerPluginSupport',
  'bean',
]
