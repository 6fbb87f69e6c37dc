/**
 * Goal: the cluster list OpenWire clients are told (updateClusterClients) follows ActiveMQ's rules. Method: tables
 * over clientUrl/clusterList, ClusterUrlBook fed joins and leaves with and without updateClusterClientsOnRemove,
 * and ClusterWatch over an in-memory replica list with a short poll period (waits on its callbacks, never a sleep).
 */
import { describe, expect, test } from 'bun:test'
import fs from 'node:fs'
import path from 'node:path'
import { loadConfig, parseConnectorUri } from '../config/index.ts'
import type { ReplicaRecord } from '../election/index.ts'
import { makeTempDir } from '../testing/temp-dir.ts'
import {
  ClusterUrlBook,
  ClusterWatch,
  CLUSTER_NODES_MAX,
  clientUrl,
  clientUrlsOf,
  clusterList,
} from './cluster-urls.ts'

const conn = (uri: string) => parseConnectorUri(uri, undefined, 'test')

function replica(nodeId: string, clientUrls: string[] | undefined, lastSeen: number): ReplicaRecord {
  return {
    nodeId,
    role: 'replica',
    host: 'h',
    pid: 1,
    brokerName: 'b',
    since: 0,
    lastSeen,
    preferred: false,
    heartbeatMs: 1000,
    ...(clientUrls ? { clientUrls } : {}),
  }
}

describe('cluster URLs', () => {
  test('clientUrl replaces a wildcard host and keeps a named one', () => {
    expect(clientUrl(conn('tcp://0.0.0.0:61616'), 'node-a', 61616)).toBe('tcp://node-a:61616')
    expect(clientUrl(conn('tcp://127.0.0.1:61616'), 'node-a', 5000)).toBe('tcp://127.0.0.1:5000')
    expect(clientUrl(conn('auto://0.0.0.0:5671'), 'fe80::1', 5671)).toBe('tcp://[fe80::1]:5671')
  })

  test('clientUrlsOf lists OpenWire and auto connectors only, at configured ports', () => {
    const cs = [conn('stomp://0.0.0.0:61613'), conn('tcp://0.0.0.0:61616'), conn('auto://0.0.0.0:5671')]
    expect(clientUrlsOf(cs, 'h')).toEqual(['tcp://h:61616', 'tcp://h:5671'])
    expect(clientUrlsOf([conn('tcp://127.0.0.1:0')], 'h')).toEqual([])
  })

  test('clusterList is own first, then fresh replicas by node id, stale and URL-less ones left out', () => {
    const now = 100_000
    const list = clusterList(
      ['tcp://a:1'],
      [
        replica('c', ['tcp://c:1'], now - 500),
        replica('b', ['tcp://b:1', 'tcp://a:1'], now - 100),
        replica('stale', ['tcp://s:1'], now - 10_000),
        replica('old', undefined, now),
      ],
      now,
    )
    expect(list).toEqual(['tcp://a:1', 'tcp://b:1', 'tcp://c:1'])
  })

  test('clusterList takes at most CLUSTER_NODES_MAX replicas', () => {
    const many = Array.from({ length: CLUSTER_NODES_MAX + 5 }, (_, i) =>
      replica(`n${String(i).padStart(3, '0')}`, [`tcp://n${i}:1`], 0),
    )
    expect(clusterList([], many, 0).length).toBe(CLUSTER_NODES_MAX)
  })

  test('ClusterUrlBook announces joins; a leave only with updateClusterClientsOnRemove', () => {
    const keep = new ClusterUrlBook(false)
    expect(keep.offer(['a'])).toBe(true)
    expect(keep.offer(['a', 'b'])).toBe(true)
    expect(keep.urls()).toEqual(['a', 'b'])
    expect(keep.offer(['a'])).toBe(false)
    expect(keep.urls()).toEqual(['a', 'b'])
    expect(keep.offer(['a', 'c'])).toBe(true)
    expect(keep.urls()).toEqual(['a', 'b', 'c'])

    const drop = new ClusterUrlBook(true)
    drop.offer(['a', 'b'])
    expect(drop.offer(['a'])).toBe(true)
    expect(drop.urls()).toEqual(['a'])
    expect(drop.offer(['a'])).toBe(false)
  })

  test('ClusterWatch reports the first list and each change, and skips a round whose read fails', async () => {
    const seen: string[][] = []
    let replicas: ReplicaRecord[] | Error = []
    let reads = 0
    const changed: (() => void)[] = []
    const read = async () => {
      reads++
      if (replicas instanceof Error) throw replicas
      return replicas
    }
    const watch = new ClusterWatch(
      ['tcp://own:1'],
      read,
      (urls) => {
        seen.push(urls)
        changed.shift()?.()
      },
      5,
    )
    await watch.start()
    expect(seen).toEqual([['tcp://own:1']])
    replicas = new Error('EIO')
    const readsBefore = reads
    await new Promise<void>((resolve) => {
      const poll = setInterval(() => {
        if (reads >= readsBefore + 2) resolve(clearInterval(poll))
      }, 5)
    })
    expect(seen.length).toBe(1)
    replicas = [replica('r', ['tcp://r:1'], Date.now())]
    await new Promise<void>((resolve) => changed.push(resolve))
    watch.stop()
    expect(seen.at(-1)).toEqual(['tcp://own:1', 'tcp://r:1'])
  })

  test('loadConfig takes updateClusterClients on an OpenWire connector and refuses it on a STOMP one', () => {
    const dir = makeTempDir('cluster-urls-config-')
    try {
      const load = (connector: string) => {
        const file = path.join(dir.path, 'broker.xml')
        fs.writeFileSync(file, `<broker><transportConnectors>${connector}</transportConnectors></broker>`)
        return loadConfig({ file })
      }
      const c = load('<transportConnector uri="tcp://127.0.0.1:6001" updateClusterClients="true"/>').connectors[0]!
      expect([c.updateClusterClients, c.updateClusterClientsOnRemove]).toEqual([true, undefined])
      expect(() => load('<transportConnector uri="stomp://127.0.0.1:6000" updateClusterClients="true"/>')).toThrow(
        expect.objectContaining({ code: 'CONFIG_INVALID' }),
      )
    } finally {
      dir.remove()
    }
  })
})
