/** @module The one scrypt call (memory-hard KDF) shared by password hashing and the passphrase box, with its parameters. */
import { scrypt as scryptCallback } from 'node:crypto';

export interface ScryptParams {
  /** log2 of the cost N. */
  logN: number;
  r: number;
  p: number;
}

/** N = 2^15, r = 8, p = 1: 32 MiB and a few tens of ms per call on this hardware class. */
export const SCRYPT_DEFAULTS: Readonly<ScryptParams> = Object.freeze({ logN: 15, r: 8, p: 1 });

/** Derives `keyLength` bytes; async so the libuv pool does the work, not the event loop. */
export function scrypt(secret: string | Buffer, salt: Buffer, keyLength: number, params: ScryptParams): Promise<Buffer> {
  const N = 2 ** params.logN;
  // scrypt needs 128·N·r bytes; node's default maxmem (32 MiB) is exactly too small for N = 2^15, r = 8.
  const maxmem = 2 * 128 * N * params.r + 1024 * 1024;
  return new Promise((resolve, reject) => {
    scryptCallback(secret, salt, keyLength, { N, r: params.r, p: params.p, maxmem }, (err, key) =>
      err ? reject(err) : resolve(key),
    );
  });
}
