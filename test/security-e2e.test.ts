/**
 * Goal: issue 15's authentication and authorization with the compiled binary and clients we did not write.
 * Method: `sfbroker run` from the compiled binary with an ActiveMQ-style activemq.xml (Spring <beans>, the
 * ActiveMQ namespace, <plugins> with simpleAuthenticationPlugin and authorizationPlugin) loaded unchanged, and a
 * second one with jaasAuthenticationPlugin reading login.config, users.properties and groups.properties beside it.
 * python3-stomp (test/fixtures/stomp-security-client.py) and @stomp/stompjs connect with right and wrong
 * credentials and try denied operations; /metrics must count the failures; a users.properties edit is picked up
 * without a restart (reload=true); and the failover client re-authenticates across a kill -9 of the primary with
 * nothing lost. Every child is killed in afterAll; every wait is bounded; no timing assertion.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import type { ChildProcess } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import type { Client } from '@stomp/stompjs'
import { compiledBinary } from './fixtures/binary.ts'
import { TestProcesses, tailFile, spawnLines, type LineChild } from './fixtures/broker-process.ts'
import { freePort, tcpAccepts } from '../src/testing/net-probe.ts'
import { until } from '../src/testing/until.ts'
import { connectStompJs } from '../src/protocol/stomp/testing/stompjs-tcp.ts'

const procs = new TestProcesses()
const workDir = procs.tempDir('sfb-sec-e2e-')
const env = { PATH: '/usr/local/bin:/usr/bin:/bin', HOME: workDir, NO_COLOR: '1' }
let binary = ''
const clients: Client[] = []

beforeAll(() => {
  binary = compiledBinary()
}, 300_000)
afterAll(async () => {
  await Promise.allSettled(clients.map((c) => c.deactivate({ force: true })))
  procs.cleanup()
})

const PLUGINS_AUTHZ = `
    <authorizationPlugin>
      <map>
        <authorizationMap>
          <authorizationEntries>
            <authorizationEntry queue=">" read="admins" write="admins" admin="admins" />
            <authorizationEntry queue="USERS.>" read="users" write="users" admin="users" />
            <authorizationEntry topic="ActiveMQ.Advisory.>" read="guests,users" write="guests,users" admin="guests,users"/>
          </authorizationEntries>
          <tempDestinationAuthorizationEntry>
            <tempDestinationAuthorizationEntry read="admins" write="admins" admin="admins"/>
          </tempDestinationAuthorizationEntry>
        </authorizationMap>
      </map>
    </authorizationPlugin>`

/** An activemq.xml as ActiveMQ ships it (beans, namespaces, comments), with the given authentication plugin. */
function activemqXml(authentication: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>
<!-- security sections as in ActiveMQ's conf/activemq-security.xml -->
<beans xmlns="http://www.springframework.org/schema/beans"
       xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
       xsi:schemaLocation="http://www.springframework.org/schema/beans http://www.springframework.org/schema/beans/spring-beans.xsd
                           http://activemq.apache.org/schema/core http://activemq.apache.org/schema/core/activemq-core.xsd">
  <broker xmlns="http://activemq.apache.org/schema/core" brokerName="localhost" useJmx="false">
    <plugins>
      ${authentication}
      ${PLUGINS_AUTHZ}
    </plugins>
  </broker>
</beans>
`
}

const SIMPLE = `<simpleAuthenticationPlugin>
        <users>
          <authenticationUser username="system" password="manager" groups="users,admins"/>
          <authenticationUser username="user" password="password" groups="users"/>
          <authenticationUser username="guest" password="password" groups="guests"/>
        </users>
      </simpleAuthenticationPlugin>`

interface Broker {
  proc: ChildProcess
  port: number
  adminPort: number
  log: string
}

async function startBroker(
  name: string,
  xml: string,
  shared: string,
  extraFiles: Record<string, string> = {},
): Promise<Broker> {
  const dir = path.join(workDir, name)
  fs.mkdirSync(dir, { recursive: true })
  const file = path.join(dir, 'activemq.xml')
  fs.writeFileSync(file, xml, { mode: 0o600 })
  for (const [f, text] of Object.entries(extraFiles)) fs.writeFileSync(path.join(dir, f), text, { mode: 0o600 })
  const port = await freePort()
  const adminPort = await freePort()
  const log = path.join(dir, `broker-${port}.log`)
  const fd = fs.openSync(log, 'a')
  const proc = procs.spawn(
    [
      binary,
      'run',
      '--config',
      file,
      '--data',
      shared,
      '--connector',
      `stomp://127.0.0.1:${port}`,
      '--admin',
      `127.0.0.1:${adminPort}`,
    ],
    { cwd: dir, env, stdio: ['ignore', fd, fd] },
  )
  fs.closeSync(fd)
  await until(
    () => tcpAccepts(port, 2000),
    () => `broker ${name} on ${port} (log: ${tailFile(log, 2000)})`,
    60_000,
  )
  return { proc, port, adminPort, log }
}

function python(port: number, args: string[]): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const child = procs.spawn([
      '/usr/bin/python3',
      path.join(import.meta.dir, 'fixtures', 'stomp-security-client.py'),
      String(port),
      ...args,
    ])
    let out = ''
    let err = ''
    child.stdout!.on('data', (d) => (out += d))
    child.stderr!.on('data', (d) => (err += d))
    const t = setTimeout(() => child.kill('SIGKILL'), 30_000)
    child.on('close', (code, signal) => {
      clearTimeout(t)
      if (code === 0) resolve(JSON.parse(out.trim().split('\n').pop()!))
      else
        reject(
          new Error(
            `stomp-security-client.py ${args.join(' ')} exited ${code ?? signal}: ${err.trim().split('\n').slice(-5).join(' | ')}`,
          ),
        )
    })
  })
}

async function metrics(b: Broker): Promise<string> {
  const auth = 'Basic ' + Buffer.from('system:manager').toString('base64')
  const res = await fetch(`http://127.0.0.1:${b.adminPort}/metrics`, { headers: { authorization: auth } })
  return res.text()
}

describe('security with the compiled binary', () => {
  let simple: Broker

  beforeAll(async () => {
    simple = await startBroker('simple', activemqXml(SIMPLE), path.join(workDir, 'simple-data'))
  }, 120_000)

  test('python3-stomp: right credentials connect, wrong ones get ActiveMQ ERROR text; the log names user and address, never the password', async () => {
    expect((await python(simple.port, ['login', 'system', 'manager'])).connected).toBe(true)
    const bad = await python(simple.port, ['login', 'system', 'not-the-password'])
    expect(bad.connected).toBe(false)
    expect(bad.errors).toEqual(['User name [system] or password is invalid.'])
    const log = fs.readFileSync(simple.log, 'utf8')
    expect(log).toContain('login failed: user "system" from 127.0.0.1')
    expect(log).not.toContain('not-the-password')
    expect(log).not.toContain('manager')
    await until(
      async () => /sfbroker_auth_failures_total\{[^}]*\} [1-9]/.test(await metrics(simple)),
      'sfbroker_auth_failures_total >= 1',
      10_000,
    )
  }, 60_000)

  test('python3-stomp: a denied SEND gets ActiveMQ ERROR text and the connection stays up for an allowed one', async () => {
    const r = await python(simple.port, ['denied', 'user', 'password', '/queue/ORDERS', '/queue/USERS.mine'])
    expect(r.errors).toEqual(['User user is not authorized to write to: queue://ORDERS'])
    expect(r.receipts).toContain('r-allowed')
    expect(r.connected).toBe(true)
  }, 60_000)

  test('@stomp/stompjs: wrong credentials are refused; a denied SUBSCRIBE gets ActiveMQ ERROR text', async () => {
    await expect(
      connectStompJs(simple.port, {
        connectHeaders: { login: 'guest', passcode: 'nope', host: 'x' },
        heartbeatIncoming: 0,
        heartbeatOutgoing: 0,
      }),
    ).rejects.toThrow('User name [guest] or password is invalid.')
    const c = await connectStompJs(simple.port, {
      connectHeaders: { login: 'guest', passcode: 'password', host: 'x' },
      heartbeatIncoming: 0,
      heartbeatOutgoing: 0,
    })
    clients.push(c)
    const errors: string[] = []
    c.onStompError = (f) => errors.push(f.headers.message ?? '')
    c.subscribe('/queue/USERS.secret', () => {})
    await until(() => errors.length > 0, 'an ERROR for the denied SUBSCRIBE', 10_000)
    expect(errors[0]).toBe('User guest is not authorized to read from: queue://USERS.secret')
    // Advisory-style topics are open to guests, as ActiveMQ's sample security config grants.
    // Its RECEIPT says the broker took this SUBSCRIBE (a refusal would be an ERROR instead).
    const taken = new Promise<void>((resolve) => c.watchForReceipt('advisory-sub', () => resolve()))
    c.subscribe('/topic/ActiveMQ.Advisory.Connection', () => {}, { receipt: 'advisory-sub' })
    await taken
    expect(errors.length).toBe(1)
  }, 60_000)
})

describe('JAAS PropertiesLoginModule with the compiled binary', () => {
  test('login.config, users.properties and groups.properties beside activemq.xml; an edit is picked up without a restart', async () => {
    const jaas = await startBroker(
      'jaas',
      activemqXml('<jaasAuthenticationPlugin configuration="activemq" />'),
      path.join(workDir, 'jaas-data'),
      {
        'login.config':
          'activemq {\n    org.apache.activemq.jaas.PropertiesLoginModule required\n        org.apache.activemq.jaas.properties.user="users.properties"\n        org.apache.activemq.jaas.properties.group="groups.properties"\n        reload=true;\n};\n',
        'users.properties': 'admin=admin\nuser=password\n',
        'groups.properties': 'admins=admin\nusers=admin,user\n',
      },
    )
    expect((await python(jaas.port, ['login', 'admin', 'admin'])).connected).toBe(true)
    expect((await python(jaas.port, ['login', 'newbie', 'pw'])).connected).toBe(false)
    // The new user's password hashed by the binary's own hash-password, read from stdin.
    const hp = procs.spawn([binary, 'hash-password'], { cwd: workDir, env, stdio: ['pipe', 'pipe', 'pipe'] })
    let out = ''
    hp.stdout!.on('data', (d) => (out += d))
    hp.stdin!.end('pw\n')
    await new Promise((r) => hp.once('exit', r))
    expect(out.trim()).toMatch(/^scrypt\$/)
    // A newer mtime for sure (coarse file systems), then the edit: the next login sees it.
    await Bun.sleep(20)
    fs.appendFileSync(path.join(workDir, 'jaas', 'users.properties'), `newbie=${out.trim()}\n`)
    expect((await python(jaas.port, ['login', 'newbie', 'pw'])).connected).toBe(true)
    jaas.proc.kill('SIGKILL')
  }, 120_000)
})

describe('failover with authentication', () => {
  test('the failover client re-authenticates to the new primary after kill -9 and nothing is lost', async () => {
    const shared = path.join(workDir, 'failover-data')
    const a = await startBroker('fo-a', activemqXml(SIMPLE), shared)
    const bPort = await freePort()
    const bDir = path.join(workDir, 'fo-b')
    fs.mkdirSync(bDir)
    fs.writeFileSync(path.join(bDir, 'activemq.xml'), activemqXml(SIMPLE), { mode: 0o600 })
    const bLog = path.join(bDir, 'broker.log')
    const fd = fs.openSync(bLog, 'a')
    const b = procs.spawn(
      [
        binary,
        'run',
        '--config',
        path.join(bDir, 'activemq.xml'),
        '--data',
        shared,
        '--connector',
        `stomp://127.0.0.1:${bPort}`,
      ],
      { cwd: bDir, env, stdio: ['ignore', fd, fd] },
    )
    fs.closeSync(fd)
    const url = `failover:(tcp://127.0.0.1:${a.port},tcp://127.0.0.1:${bPort})?randomize=false&initialReconnectDelay=50&maxReconnectDelay=1000&timeout=120000`
    const total = 600
    const run = (args: string[]): LineChild =>
      spawnLines(
        procs,
        [binary, ...args, '--url', url, '--user', 'user', '--password', 'password', '--log-level', 'warn'],
        { cwd: workDir, env },
      )
    const consumer = run([
      'consume',
      '--destination',
      'queue://USERS.failover',
      '--ack',
      'individual',
      '--prefetch',
      '10',
      '--timeout',
      '15000',
    ])
    const producer = run([
      'produce',
      '--destination',
      'queue://USERS.failover',
      '--count',
      String(total),
      '--persistent',
      '--window',
      '10',
      '--quiet',
    ])
    await until(
      () => consumer.lines.length >= 50 || consumer.proc.exitCode !== null,
      () => `the consumer to print 50 messages (stderr: ${consumer.stderr()})`,
      90_000,
    )
    a.proc.kill('SIGKILL')
    const [pc, cc] = await Promise.all([producer.exit, consumer.exit])
    if (pc !== 0 || cc !== 0)
      throw new Error(
        `produce exit ${pc}: ${producer.stderr()}\nconsume exit ${cc}: ${consumer.stderr()}\nbroker b log:\n${tailFile(bLog, 2000)}`,
      )
    const bodies = new Set(consumer.lines)
    expect(Array.from({ length: total }, (_, i) => `message ${i}`).filter((m) => !bodies.has(m))).toEqual([])
    // Both clients logged in to the new primary too: its log has no failed login.
    expect(fs.readFileSync(bLog, 'utf8')).not.toContain('login failed')
    b.kill('SIGKILL')
  }, 240_000)
})
