/** @module The crypto pool's worker entry (piscina): batched signature verification and key generation, off the calling thread. */
import { createPublicKey } from 'node:crypto';
import { fail, ok } from '../errors.js';
import { generateKeyPair } from './certificates.js';
import type { PoolReply, PoolTask } from './pool-tasks.js';
import { verifySignature } from './signature.js';

export default function run(task: PoolTask): PoolReply {
  try {
    switch (task.type) {
      case 'verify-batch':
        return ok({
          type: 'verify-batch',
          results: task.items.map((item) => {
            const key = createPublicKey({ key: Buffer.from(item.spkiDer), format: 'der', type: 'spki' });
            return verifySignature(key, item.alg, item.base, Buffer.from(item.signature));
          }),
        });
      case 'generate-key-pair':
        return ok({ type: 'generate-key-pair', ...generateKeyPair(task.kind, task.rsaBits) });
      default:
        return fail('bad_request', `unknown pool task ${(task as { type: string }).type}`);
    }
  } catch (error) {
    return fail('internal_error', error instanceof Error ? error.message : String(error));
  }
}
