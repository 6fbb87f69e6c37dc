/**
 * Security over STOMP, in process: an ActiveMQ-style XML with `<plugins>` loaded by loadConfig, a Security built
 * from it, the real Broker behind a real StompServer, and a raw client on 127.0.0.1. Checks ActiveMQ's texts for a
 * failed login (ERROR then close), denied read/write/create (ERROR, connection stays up), duplicate client ids,
 * and that frames pipelined behind CONNECT wait for the login to be decided.
 */
import { afterEach, expect, test } from 'bun:test'
import fs from 'node:fs'
import path from 'node:path'
import { loadConfig } from '../config/index.ts'
import { startBroker, type Harness } from '../protocol/stomp/testing/broker-harness.ts'
import { RawClient, frame } from '../protocol/stomp/testing/raw-client.ts'
import { tempDirs } from '../testing/temp-dir.ts'
import { Security } from './security.ts'
import { hashPassword } from './password.ts'

const XML = (hash: string) => `<beans xmlns="http://www.springframework.org/schema/beans">
<broker xmlns="http://activemq.apache.org/schema/core" brokerName="sec" persistent="false">
  <plugins>
    <simpleAuthenticationPlugin>
      <users>
        <authenticationUser username="admin" password="${hash}" groups="admins,users"/>
        <authenticationUser username="guest" password="guest-pw" groups="guests"/>
      </users>
    </simpleAuthenticationPlugin>
    <authorizationPlugin>
      <map>
        <authorizationMap>
          <authorizationEntries>
            <authorizationEntry queue=">" read="admins" write="admins" admin="admins"/>
            <authorizationEntry queue="public.>" read="guests" write="guests"/>
            <authorizationEntry topic="ActiveMQ.Advisory.>" read="*" write="*" admin="*"/>
          </authorizationEntries>
          <tempDestinationAuthorizationEntry>
            <tempDestinationAuthorizationEntry read="admins" write="admins" admin="admins"/>
          </tempDestinationAuthorizationEntry>
        </authorizationMap>
      </map>
    </authorizationPlugin>
  </plugins>
</broker>
</beans>`

const scratch = tempDirs('sfb-sec-')
let h: Harness | null = null
const clients: RawClient[] = []
afterEach(async () => {
  for (const c of clients.splice(0)) c.destroy()
  await h?.stop()
  h = null
})

async function start(): Promise<{ port: number; security: Security }> {
  const dir = scratch()
  const file = path.join(dir, 'activemq.xml')
  fs.writeFileSync(file, XML(await hashPassword('s3cret!', { N: 1024 })), { mode: 0o600 })
  const config = loadConfig({ file, cwd: dir })
  const security = new Security(config.security, { backoff: { freeFailures: 100 } })
  h = await startBroker({ authorizer: security.authorizer, server: { authenticator: security.authenticator } })
  return { port: h.port, security }
}

async function connect(
  port: number,
  login?: string,
  passcode?: string,
  extra: Record<string, string> = {},
): Promise<RawClient> {
  const c = await RawClient.connect(port)
  clients.push(c)
  c.setVersion('1.2')
  const headers: Record<string, string> = { 'accept-version': '1.2', host: 'x', ...extra }
  if (login !== undefined) headers.login = login
  if (passcode !== undefined) headers.passcode = passcode
  c.write(frame('CONNECT', headers))
  return c
}

test('STOMP CONNECT with a wrong password gets ActiveMQ ERROR text and the connection closes', async () => {
  const { port, security } = await start()
  const c = await connect(port, 'admin', 'wrong')
  const err = await c.next('ERROR')
  expect(err.headers.message).toBe('User name [admin] or password is invalid.')
  expect(err.headers.code).toBe('SECURITY_AUTHENTICATION_FAILED')
  expect(new TextDecoder().decode(err.body)).not.toContain('wrong')
  await c.waitClosed()
  const none = await connect(port)
  expect((await none.next('ERROR')).headers.message).toBe('User name [null] or password is invalid.')
  expect(security.stats().authFailures).toBe(2)
})

test('STOMP CONNECT with a scrypt-hashed password connects; frames pipelined behind CONNECT wait for the login', async () => {
  const { port, security } = await start()
  const c = await RawClient.connect(port)
  clients.push(c)
  c.write(
    frame('CONNECT', { 'accept-version': '1.2', host: 'x', login: 'admin', passcode: 's3cret!' }) +
      frame('SEND', { destination: '/queue/orders', receipt: 's1' }, 'hello') +
      frame('SUBSCRIBE', { destination: '/queue/orders', id: '1', receipt: 'sub1' }),
  )
  expect((await c.frame(0)).command).toBe('CONNECTED')
  await c.receipt('s1')
  await c.receipt('sub1')
  const m = await c.next('MESSAGE')
  expect(new TextDecoder().decode(m.body)).toBe('hello')
  expect(security.stats().authSuccesses).toBe(1)
})

test('STOMP denied write, read and create get ActiveMQ texts in ERROR frames and the connection stays up', async () => {
  const { port, security } = await start()
  const admin = await connect(port, 'admin', 's3cret!')
  await admin.next('CONNECTED')
  admin.write(frame('SEND', { destination: '/queue/public.news', receipt: 'a1' }, 'x'))
  await admin.receipt('a1') // public.news now exists (admin may create it)

  const g = await connect(port, 'guest', 'guest-pw')
  await g.next('CONNECTED')
  g.write(frame('SEND', { destination: '/queue/orders', receipt: 'w1' }, 'x'))
  const w = await g.next('ERROR')
  expect(w.headers.message).toBe('User guest is not authorized to write to: queue://orders')
  expect(w.headers['receipt-id']).toBe('w1')
  expect(w.headers.code).toBe('SECURITY_NOT_AUTHORIZED')

  g.write(frame('SUBSCRIBE', { destination: '/queue/orders', id: 's', receipt: 'r1' }))
  await g.waitFor(() => g.frames.filter((f) => f.command === 'ERROR').length >= 2, 5000, 'second ERROR')
  expect(g.frames.filter((f) => f.command === 'ERROR')[1]!.headers.message).toBe(
    'User guest is not authorized to read from: queue://orders',
  )

  // Write is granted on public.>, admin is not: an existing queue takes the send, a new one may not be created.
  g.write(frame('SEND', { destination: '/queue/public.new', receipt: 'c1' }, 'x'))
  await g.waitFor(() => g.frames.filter((f) => f.command === 'ERROR').length >= 3, 5000, 'third ERROR')
  expect(g.frames.filter((f) => f.command === 'ERROR')[2]!.headers.message).toBe(
    'User guest is not authorized to create: queue://public.new',
  )
  g.write(frame('SEND', { destination: '/queue/public.news', receipt: 'ok' }, 'y'))
  await g.receipt('ok')
  // Browsing is reading.
  g.write(frame('SUBSCRIBE', { destination: '/queue/public.news', id: 'b', browser: 'true', receipt: 'b1' }))
  await g.receipt('b1')
  g.write(frame('SUBSCRIBE', { destination: '/temp-queue/mine', id: 't', receipt: 't1' }))
  await g.waitFor(() => g.frames.filter((f) => f.command === 'ERROR').length >= 4, 5000, 'fourth ERROR')
  expect(g.frames.filter((f) => f.command === 'ERROR')[3]!.headers.message).toBe(
    'User guest is not authorized to read from: temp-queue://mine',
  )
  expect(g.isClosed).toBe(false)
  expect(security.stats().authorizationDenials).toBe(4)
})

test('STOMP a second connection with a client-id in use is refused with ActiveMQ InvalidClientIDException text', async () => {
  const { port } = await start()
  const a = await connect(port, 'admin', 's3cret!', { 'client-id': 'app-1' })
  await a.next('CONNECTED')
  const b = await connect(port, 'admin', 's3cret!', { 'client-id': 'app-1' })
  const err = await b.next('ERROR')
  expect(err.headers.message).toMatch(
    /^Broker: localhost - Client: app-1 already connected from tcp:\/\/127\.0\.0\.1:\d+$/,
  )
  expect(err.headers.code).toBe('BROKER_CLIENT_ID_IN_USE')
  await b.waitClosed()
})
