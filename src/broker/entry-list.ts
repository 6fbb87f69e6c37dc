/**
 * QueueEntry and EntryList: one message waiting on (or delivered from) one queue, and the intrusive doubly linked
 * list a queue keeps its pending entries in, one list per priority. Push, unshift (redelivery goes to the head)
 * and remove are O(1) and allocate nothing; an entry knows whether it is listed.
 */
import { assert } from '../lib/errors.ts'
import type { BrokerMessage } from './message.ts'
import type { MessageQueue } from './queue.ts'

export interface QueueEntry {
  msg: BrokerMessage
  /** Store seq under this queue's key; 0 when not stored there. */
  seq: number
  redeliveries: number
  /** Recovered from a store written by an earlier primary, which may have dispatched it already: the new
   *  primary cannot tell, so its first delivery says redelivered:true (JMS: "may have been delivered before"). */
  recovered?: boolean
  queue: MessageQueue
  prev: QueueEntry | null
  next: QueueEntry | null
  listed: boolean
}

export class EntryList {
  head: QueueEntry | null = null
  tail: QueueEntry | null = null
  size = 0
  push(e: QueueEntry): void {
    e.prev = this.tail
    e.next = null
    if (this.tail) this.tail.next = e
    else this.head = e
    this.tail = e
    e.listed = true
    this.size++
  }
  unshift(e: QueueEntry): void {
    e.next = this.head
    e.prev = null
    if (this.head) this.head.prev = e
    else this.tail = e
    this.head = e
    e.listed = true
    this.size++
  }
  remove(e: QueueEntry): void {
    assert(e.listed, 'removing an unlisted queue entry')
    if (e.prev) e.prev.next = e.next
    else this.head = e.next
    if (e.next) e.next.prev = e.prev
    else this.tail = e.prev
    e.prev = e.next = null
    e.listed = false
    this.size--
  }
}
