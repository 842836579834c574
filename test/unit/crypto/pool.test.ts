/** @module The piscina crypto pool verifies batches and generates keys in worker threads (runs the compiled worker from dist/). */
import crypto from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { CryptoPool } from '../../../src/crypto/pool.js';
import { generateKeyPair } from '../../../src/crypto/certificates.js';

// The worker runs as compiled JavaScript: `npm test` builds dist/ first.
const pool = new CryptoPool({ threads: 2, workerFile: new URL('../../../dist/src/crypto/tasks.worker.js', import.meta.url) });
afterAll(() => pool.close());

describe('CryptoPool', () => {
  it('verifies a batch, telling good signatures from bad ones', async () => {
    const pair = generateKeyPair('ed25519');
    const spkiDer = crypto.createPublicKey(pair.publicKeyPem).export({ type: 'spki', format: 'der' });
    const sign = (base: string) => crypto.sign(null, Buffer.from(base), pair.privateKeyPem);
    const items = [
      { spkiDer, alg: 'ed25519' as const, base: 'a', signature: sign('a') },
      { spkiDer, alg: 'ed25519' as const, base: 'b', signature: sign('a') },
      { spkiDer, alg: 'ed25519' as const, base: 'c', signature: Buffer.alloc(64) },
    ];
    expect(await pool.verifyBatch(items)).toEqual([true, false, false]);
  });

  it('generates key pairs off the calling thread', async () => {
    const pair = await pool.generateKeyPair('rsa', 2048);
    const key = crypto.createPrivateKey(pair.privateKeyPem);
    expect(key.asymmetricKeyType).toBe('rsa');
    expect(key.asymmetricKeyDetails?.modulusLength).toBe(2048);
  });

  it('reports a failing task as a coded error', async () => {
    await expect(pool.generateKeyPair('rsa', 1)).rejects.toMatchObject({ code: 'internal_error' });
  });
});
