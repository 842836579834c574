/** @module The fleet's terminal identities (RSA-2048 active, P-256 idle), cached in bench/.cache/identities/ so only the first run pays for key generation. */
// Active terminals share a pool of distinct RSA keys, each terminal with its own certificate and so its own TFP;
// idle ones are P-256, one key each (cheap to generate).
import fs from 'node:fs';
import path from 'node:path';
import { Piscina } from 'piscina';
import { defaultAlgorithm } from '../../src/crypto/certificates.js';
import { fingerprint } from '../../src/crypto/fingerprint.js';
import type { KeyKind, SignatureAlgorithm } from '../../src/protocol/types.js';
import type { GeneratedIdentity, IdentityTask } from './identity.worker.js';
import type { Signer } from './sign.worker.js';

export interface TerminalIdentity {
  serial: string;
  kind: KeyKind;
  alg: SignatureAlgorithm;
  privateKeyPem: string;
  certDer: Buffer;
  tfp: string;
}

/** What the signing pool needs of a terminal to sign as it (sign.worker.ts): its key, and its TFP as the keyid. */
export const signerOf = (t: TerminalIdentity): Signer => ({ serial: t.serial, privateKeyPem: t.privateKeyPem, keyid: t.tfp, alg: t.alg });

export interface IdentityPlan {
  cacheDir: string;
  /** Active terminals: RSA-2048. */
  rsa: number;
  /** Idle terminals: P-256. */
  ec: number;
  /** Distinct RSA keys shared by the active terminals (generating 10,000 RSA keys takes most of an hour on 2 busy cores). */
  rsaKeys: number;
}

export interface GenerationReport {
  seconds: number;
  rsaKeysGenerated: number;
  certificatesGenerated: number;
}

const BATCH = 50;

export const rsaSerial = (i: number): string => `BENCH-R${String(i + 1).padStart(6, '0')}`;
export const ecSerial = (i: number): string => `BENCH-E${String(i + 1).padStart(6, '0')}`;

const files = (plan: IdentityPlan) => ({
  rsaKeys: path.join(plan.cacheDir, 'rsa2048-keys.jsonl'),
  rsaCerts: path.join(plan.cacheDir, `rsa2048-certs-k${plan.rsaKeys}.jsonl`),
  ec: path.join(plan.cacheDir, 'ec-p256.jsonl'),
});

/** The complete lines of a JSONL file, at most `limit`; a line cut off by an interrupted run is ignored. */
function readLines<T>(file: string, limit: number): T[] {
  if (!fs.existsSync(file)) return [];
  const out: T[] = [];
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    if (out.length >= limit) break;
    try {
      out.push(JSON.parse(line) as T);
    } catch {
      break;
    }
  }
  return out;
}

type IdentityPool = Piscina<IdentityTask, unknown[]>;

/** Tops `file` up to `want` complete lines, generating in batches on the pool and appending in order; returns how many it generated. */
async function fill<T>(pool: IdentityPool, file: string, want: number, task: (from: number, to: number) => IdentityTask, progress: (done: number) => void): Promise<number> {
  const lines = readLines<T>(file, Number.MAX_SAFE_INTEGER);
  const have = lines.length;
  if (have >= want) return 0;
  // Drops a line cut off by an interrupted run, so the appends continue a valid file.
  fs.writeFileSync(file, lines.map((l) => JSON.stringify(l) + '\n').join(''));
  let written = have;
  const window = Math.max(2, pool.maxThreads * 2);
  for (let from = have; from < want; from += BATCH * window) {
    const batches: Promise<T[]>[] = [];
    for (let b = from; b < Math.min(want, from + BATCH * window); b += BATCH) batches.push(pool.run(task(b, Math.min(want, b + BATCH))) as Promise<T[]>);
    for (const generated of await Promise.all(batches)) {
      fs.appendFileSync(file, generated.map((l) => JSON.stringify(l) + '\n').join(''));
      written += generated.length;
    }
    progress(written);
  }
  return written - have;
}

/** Makes sure the cache holds the plan's identities, generating what is missing on `threads` worker threads. */
export async function ensureIdentities(plan: IdentityPlan, threads: number, progress: (text: string) => void): Promise<GenerationReport> {
  fs.mkdirSync(plan.cacheDir, { recursive: true });
  const f = files(plan);
  const started = performance.now();
  const keyCount = Math.min(plan.rsaKeys, plan.rsa);
  const complete = readLines(f.rsaKeys, keyCount).length >= keyCount && readLines(f.rsaCerts, plan.rsa).length >= plan.rsa && readLines(f.ec, plan.ec).length >= plan.ec;
  if (complete) return { seconds: 0, rsaKeysGenerated: 0, certificatesGenerated: 0 };

  const pool: IdentityPool = new Piscina({ filename: new URL('./identity.worker.js', import.meta.url).href, minThreads: threads, maxThreads: threads });
  try {
    const keysGenerated = await fill<string>(pool, f.rsaKeys, keyCount, (a, b) => ({ kind: 'rsa-keys', count: b - a }), (n) => progress(`identities: RSA-2048 keys ${n}/${keyCount}`));
    const keys = readLines<string>(f.rsaKeys, keyCount);
    const rsaGenerated = await fill<GeneratedIdentity>(pool, f.rsaCerts, plan.rsa, (a, b) => ({
      kind: 'certificates',
      items: Array.from({ length: b - a }, (_, j) => ({ serial: rsaSerial(a + j), privateKeyPem: keys[(a + j) % keyCount]! })),
    }), (n) => progress(`identities: RSA terminal certificates ${n}/${plan.rsa}`));
    const ecGenerated = await fill<GeneratedIdentity>(pool, f.ec, plan.ec, (a, b) => ({
      kind: 'ec-identities', serials: Array.from({ length: b - a }, (_, j) => ecSerial(a + j)),
    }), (n) => progress(`identities: P-256 terminals ${n}/${plan.ec}`));
    return { seconds: (performance.now() - started) / 1000, rsaKeysGenerated: keysGenerated, certificatesGenerated: rsaGenerated + ecGenerated };
  } finally {
    await pool.destroy();
  }
}

function identity(kind: KeyKind, line: GeneratedIdentity): TerminalIdentity {
  const certDer = Buffer.from(line.certDer, 'base64');
  return { serial: line.serial, kind, alg: defaultAlgorithm(kind), privateKeyPem: line.privateKeyPem, certDer, tfp: fingerprint(certDer) };
}

/** The plan's identities from the cache (call ensureIdentities first): RSA (active) first, then P-256 (idle). */
export function loadIdentities(plan: IdentityPlan): { active: TerminalIdentity[]; idle: TerminalIdentity[] } {
  const f = files(plan);
  const certs = readLines<GeneratedIdentity>(f.rsaCerts, plan.rsa);
  const ec = readLines<GeneratedIdentity>(f.ec, plan.ec);
  if (certs.length < plan.rsa || ec.length < plan.ec) throw new Error('the identity cache is incomplete: run ensureIdentities first');
  return { active: certs.map((l) => identity('rsa', l)), idle: ec.map((l) => identity('ec', l)) };
}
