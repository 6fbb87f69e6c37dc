/**
 * JAAS PropertiesLoginModule over an in-memory FilePort: login.config parsing and file resolution as ActiveMQ
 * does it (relative to login.config's directory, baseDir, the option names), properties syntax, reload=true
 * picking up changed files at the next login, a broken edit keeping the old contents, ENC(...) refused.
 */
import { expect, test } from 'bun:test'
import { isBrokerError } from '../lib/errors.ts'
import { JaasAuthenticator, resolveJaasFiles, type FilePort } from './jaas-authenticator.ts'
import { parseLoginConfig } from './login-config.ts'
import { parseProperties } from './properties-file.ts'

class MemFiles implements FilePort {
  files = new Map<string, { text: string; mtimeMs: number }>()
  tick = 1
  put(f: string, text: string): void {
    this.files.set(f, { text, mtimeMs: this.tick++ })
  }
  readText(f: string): string {
    const e = this.files.get(f)
    if (!e) throw Object.assign(new Error('ENOENT'), { code: 'ENOENT' })
    return e.text
  }
  stat(f: string) {
    const e = this.files.get(f)
    if (!e) throw Object.assign(new Error('ENOENT'), { code: 'ENOENT' })
    return { size: e.text.length, mtimeMs: e.mtimeMs, mode: 0o600 }
  }
}

const LOGIN = `/* ActiveMQ's conf/login.config */
activemq {
    org.apache.activemq.jaas.PropertiesLoginModule required
        org.apache.activemq.jaas.properties.user="users.properties"
        org.apache.activemq.jaas.properties.group="groups.properties"
        reload=true;
};
// another entry
other { org.apache.activemq.jaas.GuestLoginModule sufficient org.apache.activemq.jaas.guest.user="guest"; };
`

function setup(): MemFiles {
  const fs = new MemFiles()
  fs.put('/conf/login.config', LOGIN)
  fs.put('/conf/users.properties', '# users\nadmin=admin\nsystem : manager\nuser password\n')
  fs.put('/conf/groups.properties', 'admins=admin,system\nusers=user, admin\n')
  return fs
}

async function reason(p: Promise<unknown>): Promise<string> {
  try {
    await p
  } catch (e) {
    expect(isBrokerError(e, 'SECURITY_AUTHENTICATION_FAILED')).toBe(true)
    return (e as Error).message
  }
  throw new Error('expected a failed login')
}

test('parseProperties reads = : and blank separators, comments, continuations and escapes', () => {
  const p = parseProperties('# c\n! c\na=1\nb : 2\nc 3\nd=x\\\n   y\ne=\\u0041\\tB\nkey\\ with\\ space=v\n\n  f=  6\n')
  expect(p.map((x) => [x.key, x.value])).toEqual([
    ['a', '1'],
    ['b', '2'],
    ['c', '3'],
    ['d', 'xy'],
    ['e', 'A\tB'],
    ['key with space', 'v'],
    ['f', '6'],
  ])
  expect(p[3]!.line).toBe(6)
})

test('parseLoginConfig reads entries, flags and quoted options, and names file:line on errors', () => {
  const c = parseLoginConfig(LOGIN, 'login.config')
  expect([...c.keys()]).toEqual(['activemq', 'other'])
  const m = c.get('activemq')!.modules[0]!
  expect(m.flag).toBe('required')
  expect(m.options['org.apache.activemq.jaas.properties.user']).toBe('users.properties')
  expect(m.options.reload).toBe('true')
  try {
    parseLoginConfig('activemq {\n  x.Y required a="b"\n};\n', 'login.config')
    throw new Error('expected an error')
  } catch (e) {
    expect(isBrokerError(e, 'CONFIG_INVALID')).toBe(true)
    expect((e as Error).message).toContain('login.config:3')
  }
})

test('JaasAuthenticator resolves files beside login.config and logs users in with their groups', async () => {
  const fs = setup()
  const a = new JaasAuthenticator({ kind: 'jaas', configuration: 'activemq', loginConfig: '/conf/login.config' }, fs)
  expect(a.files).toEqual({ usersFile: '/conf/users.properties', groupsFile: '/conf/groups.properties', reload: true })
  const s = await a.authenticate({ username: 'admin', password: 'admin', remoteAddress: 'x' })
  expect([...s.groups].sort()).toEqual(['admins', 'users'])
  expect(
    (await a.authenticate({ username: 'user', password: 'password', remoteAddress: 'x' })).groups.has('users'),
  ).toBe(true)
  expect(await reason(a.authenticate({ username: 'admin', password: 'nope', remoteAddress: 'x' }))).toBe(
    'User name [admin] or password is invalid.',
  )
  expect(await reason(a.authenticate({ username: 'ghost', password: 'admin', remoteAddress: 'x' }))).toBe(
    'User name [ghost] or password is invalid.',
  )
  expect(await reason(a.authenticate({ remoteAddress: 'x' }))).toBe('User name [null] or password is invalid.')
})

test('JaasAuthenticator with reload=true picks up changed files at the next login and keeps the old ones on a broken edit', async () => {
  const fs = setup()
  const a = new JaasAuthenticator({ kind: 'jaas', configuration: 'activemq', loginConfig: '/conf/login.config' }, fs)
  fs.put('/conf/users.properties', 'admin=changed\nnewbie=pw\n')
  fs.put('/conf/groups.properties', 'admins=admin\nusers=newbie\n')
  await reason(a.authenticate({ username: 'admin', password: 'admin', remoteAddress: 'x' }))
  expect((await a.authenticate({ username: 'newbie', password: 'pw', remoteAddress: 'x' })).groups.has('users')).toBe(
    true,
  )
  fs.put('/conf/users.properties', 'admin=ENC(abc)\n')
  expect((await a.authenticate({ username: 'admin', password: 'changed', remoteAddress: 'x' })).user).toBe('admin')
})

test('JaasAuthenticator without reload keeps what it read at start; baseDir and option names are honoured', async () => {
  const fs = setup()
  fs.put(
    '/conf/login.config',
    'activemq { org.apache.activemq.jaas.PropertiesLoginModule required baseDir="/etc/amq" org.apache.activemq.jaas.properties.user="u.props"; };',
  )
  fs.put('/etc/amq/u.props', 'x=y\n')
  fs.put('/etc/amq/groups.properties', 'g=x\n')
  const a = new JaasAuthenticator({ kind: 'jaas', configuration: 'activemq', loginConfig: '/conf/login.config' }, fs)
  expect(a.files).toEqual({ usersFile: '/etc/amq/u.props', groupsFile: '/etc/amq/groups.properties', reload: false })
  fs.put('/etc/amq/u.props', 'x=z\n')
  expect((await a.authenticate({ username: 'x', password: 'y', remoteAddress: 'x' })).groups.has('g')).toBe(true)
})

test('resolveJaasFiles refuses a missing entry, other login modules, and ENC(...) passwords at start', () => {
  const fs = setup()
  const codeOf = (f: () => unknown): string => {
    try {
      f()
    } catch (e) {
      return `${(e as { code: string }).code} ${(e as Error).message}`
    }
    return 'no error'
  }
  expect(
    codeOf(() => resolveJaasFiles({ kind: 'jaas', configuration: 'nope', loginConfig: '/conf/login.config' }, fs)),
  ).toContain('CONFIG_INVALID')
  expect(
    codeOf(() => resolveJaasFiles({ kind: 'jaas', configuration: 'other', loginConfig: '/conf/login.config' }, fs)),
  ).toContain('CONFIG_UNSUPPORTED')
  fs.put('/conf/users.properties', 'admin=ENC(mYRkg+4Q4hua1kvpCCI2hg==)\n')
  const msg = codeOf(
    () => new JaasAuthenticator({ kind: 'jaas', configuration: 'activemq', loginConfig: '/conf/login.config' }, fs),
  )
  expect(msg).toContain('CONFIG_UNSUPPORTED /conf/users.properties:1')
  expect(msg).toContain('hash-password')
  expect(msg).not.toContain('mYRkg')
})
