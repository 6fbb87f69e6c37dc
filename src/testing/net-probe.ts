/**
 * Probes and port pickers shared by the end-to-end tests, their fixtures and the chaos harness: does a port accept
 * TCP, does it answer a raw STOMP CONNECT, which ports are free, and (re-exported from until.ts) a bounded poll. Test tooling only
 * (never imported by the broker); only 127.0.0.1. Every probe is bounded by a timeout and never throws: a port
 * that refuses, resets or stays silent is simply "no".
 */
import net from 'node:net'

/** Whether something completes a TCP connect on 127.0.0.1:port within timeoutMs. */
export function tcpAccepts(port: number, timeoutMs = 300): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port })
    const done = (v: boolean): void => {
      clearTimeout(t)
      s.destroy()
      resolve(v)
    }
    const t = setTimeout(() => done(false), timeoutMs)
    s.once('connect', () => done(true))
    s.once('error', () => done(false))
  })
}

/**
 * Send a STOMP 1.2 CONNECT on a fresh socket; resolve with the command line of the first frame that comes back
 * ('CONNECTED', 'ERROR'), or null when the port refuses, closes without a word, or says nothing within timeoutMs
 * (a SIGSTOPped broker accepts TCP and stays silent).
 */
export function stompFirstCommand(port: number, timeoutMs = 1000): Promise<string | null> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port })
    let data = ''
    const done = (v: string | null): void => {
      clearTimeout(t)
      s.destroy()
      resolve(v)
    }
    const t = setTimeout(() => done(null), timeoutMs)
    s.once('connect', () => s.write('CONNECT\naccept-version:1.2\nhost:localhost\nheart-beat:0,0\n\n\0'))
    s.on('data', (chunk: Buffer) => {
      data += chunk.toString('latin1')
      const nl = data.indexOf('\n')
      if (nl >= 0) done(data.slice(0, nl).replace(/\r$/, ''))
    })
    s.once('error', () => done(null))
    s.once('close', () => done(data === '' ? null : data.split('\n')[0]!.replace(/\r$/, '')))
  })
}

/** Whether 127.0.0.1:port answers a STOMP CONNECT with CONNECTED within timeoutMs. */
export async function stompConnected(port: number, timeoutMs = 1000): Promise<boolean> {
  return (await stompFirstCommand(port, timeoutMs)) === 'CONNECTED'
}

/** A port the kernel just handed out (listen on port 0, then close): free now, not reserved. */
export async function freePort(): Promise<number> {
  return (await freePorts(1))[0]!
}

/** n distinct free ports: all n listened on at once, so the kernel cannot hand out one twice. */
export async function freePorts(n: number): Promise<number[]> {
  const servers: net.Server[] = []
  const ports: number[] = []
  try {
    for (let i = 0; i < n; i++) {
      const s = net.createServer()
      await new Promise<void>((resolve, reject) => {
        s.once('error', reject)
        s.listen(0, '127.0.0.1', () => resolve())
      })
      servers.push(s)
      ports.push((s.address() as net.AddressInfo).port)
    }
  } finally {
    for (const s of servers) await new Promise<void>((r) => s.close(() => r()))
  }
  return ports
}

/** Whether 127.0.0.1:port can be listened on right now. */
export function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer()
    s.once('error', () => resolve(false))
    s.listen({ host: '127.0.0.1', port }, () => s.close(() => resolve(true)))
  })
}

/**
 * A free port picked at random in 20000-60000 (20 tries). For tests that restart a broker on the same port: a
 * port the kernel handed out as ephemeral is more likely to be reused by an outgoing connection meanwhile.
 */
export async function pickPort(): Promise<number> {
  for (let i = 0; i < 20; i++) {
    const p = 20000 + Math.floor(Math.random() * 40000)
    if (await portFree(p)) return p
  }
  throw new Error('no free port found in 20 tries')
}

// `until` and `sleep` live in the test kit's until.ts; re-exported for the tests that still import them from here.
export { sleep, until } from './until.ts'
