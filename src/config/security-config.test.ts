/**
 * `<plugins>` through loadConfig: the secured example (XML and its JSON twin) resolves to the same SecurityConfig;
 * bad input is refused naming file:line and never quoting a password; ENC(...) says what to do; login.config is
 * looked for beside the config file; a config holding passwords that others can read gets a warning.
 */
import { expect, test } from 'bun:test'
import fs from 'node:fs'
import path from 'node:path'
import { loadConfig } from './index.ts'
import { readableByOthers } from './config-warnings.ts'
import { tempDir } from '../testing/temp-dir.ts'

const ROOT = path.resolve(import.meta.dir, '..', '..')
const dir = tempDir('sfb-seccfg-')

function write(name: string, text: string, mode = 0o600): string {
  const f = path.join(dir, name)
  fs.writeFileSync(f, text, { mode })
  fs.chmodSync(f, mode)
  return f
}

function fail(text: string): { code: string; message: string } {
  try {
    loadConfig({ file: write('bad.xml', text), cwd: dir })
  } catch (e) {
    return { code: (e as { code: string }).code, message: (e as Error).message }
  }
  throw new Error('expected loadConfig to throw')
}

const xml = (plugins: string): string => `<broker persistent="false">\n<plugins>\n${plugins}\n</plugins>\n</broker>\n`

test('loadConfig reads examples/secured/activemq.xml and its JSON twin to the same security config', () => {
  const x = loadConfig({ file: path.join(ROOT, 'examples/secured/activemq.xml'), cwd: dir })
  const j = loadConfig({ file: path.join(ROOT, 'examples/secured/broker.json'), cwd: dir })
  const plain = (c: typeof x): unknown =>
    JSON.parse(
      JSON.stringify(c.security, (_k, v) =>
        v && typeof v === 'object' && typeof v.reveal === 'function' ? v.reveal() : v,
      ),
    )
  expect(plain(x)).toEqual(plain(j))
  const auth = x.security!.authentication!
  expect(auth.kind).toBe('simple')
  if (auth.kind === 'simple') {
    expect(auth.users.map((u) => [u.username, u.groups])).toEqual([
      ['admin', ['admins', 'publishers', 'consumers']],
      ['orders-app', ['publishers', 'consumers']],
      ['reporting', ['consumers']],
    ])
    expect(auth.anonymousUser).toBe('anonymous')
    // Passwords are Secrets: no serialisation of the config shows them.
    expect(JSON.stringify(x)).not.toContain('scrypt$')
  }
  expect(x.security!.authorization!.entries[2]).toEqual({
    kind: 'queue',
    patterns: ['orders.>'],
    read: ['consumers'],
    write: ['publishers'],
    admin: ['publishers'],
  })
  expect(x.security!.authorization!.tempDestinationEntry?.read).toEqual(['publishers', 'consumers'])
})

test('loadConfig refuses ENC(...) passwords saying what to do, without quoting the value', () => {
  const e = fail(
    xml(
      '<simpleAuthenticationPlugin><users>\n<authenticationUser username="a" password="ENC(c2VjcmV0)" groups="g"/>\n</users></simpleAuthenticationPlugin>',
    ),
  )
  expect(e.code).toBe('CONFIG_UNSUPPORTED')
  expect(e.message).toContain('bad.xml:4')
  expect(e.message).toContain('sfbroker hash-password')
  expect(e.message).not.toContain('c2VjcmV0')
})

test('loadConfig refuses two authentication plugins, duplicate users, entries without or with both kinds, bad patterns', () => {
  expect(fail(xml('<simpleAuthenticationPlugin/>\n<jaasAuthenticationPlugin/>')).message).toContain(
    'expected one authentication plugin',
  )
  expect(
    fail(
      xml(
        '<simpleAuthenticationPlugin><users>\n<authenticationUser username="a" password="x"/>\n<authenticationUser username="a" password="y"/>\n</users></simpleAuthenticationPlugin>',
      ),
    ).message,
  ).toContain('bad.xml:5')
  const entries = (e: string): string =>
    xml(
      `<authorizationPlugin><map><authorizationMap><authorizationEntries>\n${e}\n</authorizationEntries></authorizationMap></map></authorizationPlugin>`,
    )
  expect(fail(entries('<authorizationEntry read="a"/>')).message).toContain('names no destination')
  expect(fail(entries('<authorizationEntry queue="a" topic="b"/>')).message).toContain('expected exactly one')
  expect(fail(entries('<authorizationEntry queue="a.>.b"/>')).message).toContain(
    'expected destination names or patterns',
  )
  expect(fail(entries('<authorizationEntry queue="a" reed="x"/>')).message).toContain('did you mean "read"')
  const x = fail(
    xml(
      '<simpleAuthenticationPlugin><users>\n<authenticationUser username="a" password="hunter2" grups="g"/>\n</users></simpleAuthenticationPlugin>',
    ),
  )
  expect(x.message).not.toContain('hunter2')
})

test('loadConfig finds login.config beside the config file unless loginConfig names it', () => {
  const c = loadConfig({
    file: write('jaas.xml', xml('<jaasAuthenticationPlugin configuration="activemq"/>')),
    cwd: '/',
  })
  expect(c.security!.authentication).toEqual({
    kind: 'jaas',
    configuration: 'activemq',
    loginConfig: path.join(dir, 'login.config'),
  })
  const d = loadConfig({
    file: write('jaas2.xml', xml('<jaasAuthenticationPlugin loginConfig="conf/jaas.conf"/>')),
    cwd: '/',
  })
  expect(d.security!.authentication).toEqual({
    kind: 'jaas',
    configuration: 'activemq',
    loginConfig: path.join(dir, 'conf/jaas.conf'),
  })
})

test('readableByOthers warns for a config file with passwords that every user can read', () => {
  expect(readableByOthers(write('open.xml', '<broker/>', 0o644), 'open.xml')).toContain('chmod o-r open.xml')
  expect(readableByOthers(write('closed.xml', '<broker/>', 0o640), 'closed.xml')).toBeNull()
})

test("loadConfig accepts only ActiveMQ's default groupClass and refuses another with CONFIG_UNSUPPORTED, file:line and the value", () => {
  const map = (attrs: string, entry: string, temp = ''): string =>
    xml(
      `<authorizationPlugin><map><authorizationMap${attrs}><authorizationEntries>\n${entry}\n</authorizationEntries>${temp}</authorizationMap></map></authorizationPlugin>`,
    )
  const ok = loadConfig({
    file: write(
      'ok.xml',
      map(
        ' groupClass="org.apache.activemq.jaas.GroupPrincipal"',
        '<authorizationEntry queue=">" read="a" groupClass="org.apache.activemq.jaas.GroupPrincipal"/>',
      ),
    ),
    cwd: dir,
  })
  expect(ok.security!.authorization!.entries[0]!.read).toEqual(['a'])
  const onEntry = fail(map('', '<authorizationEntry queue=">" read="a"\n groupClass="com.example.LdapGroup"/>'))
  expect([
    onEntry.code,
    onEntry.message.includes('bad.xml:5'),
    onEntry.message.includes('com.example.LdapGroup'),
    onEntry.message.includes('org.apache.activemq.jaas.GroupPrincipal'),
  ]).toEqual(['CONFIG_UNSUPPORTED', true, true, true])
  const onMap = fail(map(' groupClass="x.Y"', '<authorizationEntry queue=">" read="a"/>'))
  expect([onMap.code, onMap.message.includes('bad.xml:3'), onMap.message.includes('"x.Y"')]).toEqual([
    'CONFIG_UNSUPPORTED',
    true,
    true,
  ])
  const onTemp = fail(
    map(
      '',
      '<authorizationEntry queue=">" read="a"/>',
      '<tempDestinationAuthorizationEntry>\n<tempDestinationAuthorizationEntry read="a" groupClass="x.Z"/>\n</tempDestinationAuthorizationEntry>',
    ),
  )
  expect([onTemp.code, onTemp.message.includes('"x.Z"')]).toEqual(['CONFIG_UNSUPPORTED', true])
})

test('loadConfig reads <admin readOnlyGroups> and refuses empty names, a group in both lists, or no authentication plugin', () => {
  const auth =
    '<simpleAuthenticationPlugin><users><authenticationUser username="a" password="x" groups="admins"/></users></simpleAuthenticationPlugin>'
  const cfg = (admin: string, plugins = auth): string =>
    `<broker persistent="false">\n<plugins>${plugins}</plugins>\n${admin}\n</broker>\n`
  const c = loadConfig({
    file: write('adm.xml', cfg('<admin listen="127.0.0.1:0" groups="admins, ops" readOnlyGroups="monitors"/>')),
    cwd: dir,
  })
  expect([c.admin!.groups, c.admin!.readOnlyGroups]).toEqual([['admins', 'ops'], ['monitors']])
  const both = fail(cfg('<admin listen="127.0.0.1:0" readOnlyGroups="monitors,admins"/>'))
  expect([
    both.code,
    both.message.includes('bad.xml:3'),
    both.message.includes('"admins" is also an admin group'),
  ]).toEqual(['CONFIG_INVALID', true, true])
  expect(fail(cfg('<admin listen="127.0.0.1:0" readOnlyGroups="monitors,,ops"/>')).message).toContain('an empty name')
  expect(fail(cfg('<admin listen="127.0.0.1:0" groups="admins,"/>')).code).toBe('CONFIG_INVALID')
  expect(fail(cfg('<admin listen="127.0.0.1:0" readOnlyGroups="monitors"/>', '')).message).toContain(
    'no authentication plugin is configured',
  )
})
