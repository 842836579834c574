/**
 * @module The crypto worker pool (piscina): key generation and batched verification off the calling thread. The server
 * does not start it: bench/pool-round-trip measures the hop alone, with no work, at 75 µs, against 16 µs for one RSA-2048
 * verify inline, and the server's only key generations are P-256 (its identity and VPN keys, well under a hop each).
 * It is kept with that benchmark, which is the measurement behind running every crypto step inline, and for work
 * that would outweigh a hop (RSA key generation, a batch of verifies off a busy thread).
 */
import os from 'node:os';
import { Piscina } from 'piscina';
import { AppError } from '../errors.js';
import type { KeyKind } from '../protocol/types.js';
import type { KeyPairPem } from './certificates.js';
import type { PoolReply, PoolResult, VerifyItem } from './pool-tasks.js';

export class CryptoPool {
  private readonly pool: Piscina;

  /** `workerFile` defaults to the compiled worker beside this module (tests running the sources point it at dist/). */
  constructor(opts: { threads?: number; workerFile?: URL } = {}) {
    this.pool = new Piscina({
      filename: (opts.workerFile ?? new URL('./tasks.worker.js', import.meta.url)).href,
      minThreads: 0,
      maxThreads: opts.threads ?? Math.max(1, os.availableParallelism() - 1),
      idleTimeout: 10_000,
    });
  }

  private async run<T extends PoolResult['type']>(task: Parameters<typeof this.pool.run>[0], type: T): Promise<Extract<PoolResult, { type: T }>> {
    const reply = (await this.pool.run(task)) as PoolReply;
    if (!reply.ok) throw new AppError(reply.code, reply.message);
    if (reply.value.type !== type) throw new AppError('internal_error', `pool answered ${reply.value.type} to ${type}`);
    return reply.value as Extract<PoolResult, { type: T }>;
  }

  async verifyBatch(items: VerifyItem[]): Promise<boolean[]> {
    return (await this.run({ type: 'verify-batch', items }, 'verify-batch')).results;
  }

  async generateKeyPair(kind: KeyKind, rsaBits?: number): Promise<KeyPairPem> {
    const { privateKeyPem, publicKeyPem } = await this.run({ type: 'generate-key-pair', kind, ...(rsaBits ? { rsaBits } : {}) }, 'generate-key-pair');
    return { privateKeyPem, publicKeyPem };
  }

  async close(): Promise<void> {
    await this.pool.destroy();
  }
}
