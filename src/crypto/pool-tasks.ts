/** @module The tasks the crypto pool runs, typed in one place for both sides of the thread boundary. */
import type { KeyKind, SignatureAlgorithm } from '../protocol/types.js';
import type { Result } from '../errors.js';

/** One signature check: the public key as SPKI DER so it crosses threads as bytes. */
export interface VerifyItem {
  spkiDer: Uint8Array;
  alg: SignatureAlgorithm;
  base: string;
  signature: Uint8Array;
}

export type PoolTask =
  | { type: 'verify-batch'; items: VerifyItem[] }
  | { type: 'generate-key-pair'; kind: KeyKind; rsaBits?: number };

export type PoolResult =
  | { type: 'verify-batch'; results: boolean[] }
  | { type: 'generate-key-pair'; privateKeyPem: string; publicKeyPem: string };

/** Errors lose their class crossing a thread: the worker answers a Result and the caller rebuilds an AppError. */
export type PoolReply = Result<PoolResult>;
