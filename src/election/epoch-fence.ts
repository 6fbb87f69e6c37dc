/**
 * The epoch fence a primary hands its store (FENCING.md): before acknowledging a group of writes the store asks
 * `assertCurrent()`, which throws ELECTION_FENCED once a newer epoch exists or this node no longer serves the
 * epoch. Claims are contiguous (each is max + 1 by exclusive create), so a newer epoch exists iff epochs/<E+1>
 * does: one stat per group commit instead of a listing that grows with every takeover.
 */
import { BrokerError } from '../lib/errors.ts'
import type { EpochFence } from './types.ts'
import type { SharePort } from './ports.ts'

export interface FenceOwner {
  serves(epoch: number): boolean
  readonly role: string
  /** The fence of `epoch` saw a newer one (ignored unless `epoch` is the term the owner serves now). */
  noteFenced(reason: string, epoch: number): void
}

export class PortEpochFence implements EpochFence {
  constructor(
    private readonly owner: FenceOwner,
    private readonly port: SharePort,
    readonly epoch: number,
  ) {}

  async assertCurrent(): Promise<void> {
    if (await this.port.epochExists(this.epoch + 1)) {
      const max = Math.max(this.epoch + 1, await this.port.maxEpoch().catch(() => 0))
      this.owner.noteFenced(`epoch ${max} claimed by another broker, ours is ${this.epoch}`, this.epoch)
      throw new BrokerError(
        'ELECTION_FENCED',
        `epoch fence ${this.port.dir}/epochs: found epoch ${max}, expected none above ${this.epoch}`,
        { details: { epoch: this.epoch, current: max } },
      )
    }
    if (!this.owner.serves(this.epoch)) {
      throw new BrokerError(
        'ELECTION_FENCED',
        `epoch fence: epoch ${this.epoch} is no longer primary here (role ${this.owner.role})`,
        { details: { epoch: this.epoch } },
      )
    }
  }
}
