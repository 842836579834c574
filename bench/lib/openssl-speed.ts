/** @module `openssl speed` on this machine: the physical limit per core for each primitive the server uses, parsed from its machine-readable output. */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

export type Primitive = 'rsa2048' | 'ecdsap256' | 'ed25519' | 'sha256' | 'hmac-sha256';

export interface SignVerify {
  sign: number;
  verify: number;
}

export interface Throughput {
  /** Block size openssl hashed; per-call overhead is included at that size. */
  bytes: number;
  bytesPerSec: number;
}

/** Operations per CPU second of one core (openssl divides by its own user time), so other load on the machine skews them less. */
export interface OpensslSpeed {
  seconds: number;
  rsa2048?: SignVerify;
  ecdsap256?: SignVerify;
  ed25519?: SignVerify;
  sha256?: Throughput;
  hmacSha256?: Throughput;
}

/** Block sizes near what the server hashes: a terminal certificate (~400-800 bytes) and the pairing-code HMAC message (~100 bytes). */
export const SHA256_BYTES = 512;
export const HMAC_BYTES = 128;

export const ALL_PRIMITIVES: readonly Primitive[] = ['rsa2048', 'ecdsap256', 'ed25519', 'sha256', 'hmac-sha256'];

function numbers(line: string, from: number): number[] {
  return line.split(':').slice(from).map(Number);
}

/** Parses `openssl speed -mr` output (lines such as `+F2:2:2048:1142.8:35718.1`). */
export function parseOpensslSpeed(output: string, seconds: number): OpensslSpeed {
  const result: OpensslSpeed = { seconds };
  for (const line of output.split('\n')) {
    const kind = line.split(':')[0];
    if (kind === '+F2' && line.split(':')[2] === '2048') {
      const [sign, verify] = numbers(line, 3);
      result.rsa2048 = { sign: sign!, verify: verify! };
    } else if (kind === '+F4' && line.split(':')[2] === '256') {
      const [sign, verify] = numbers(line, 3);
      result.ecdsap256 = { sign: sign!, verify: verify! };
    } else if (kind === '+F6' && line.includes(':Ed25519:')) {
      const [sign, verify] = numbers(line, 4);
      result.ed25519 = { sign: sign!, verify: verify! };
    } else if (kind === '+F' && line.split(':')[2] === 'sha256') {
      result.sha256 = { bytes: SHA256_BYTES, bytesPerSec: Number(line.split(':')[3]) };
    } else if (kind === '+F' && line.split(':')[2] === 'hmac(sha256)') {
      result.hmacSha256 = { bytes: HMAC_BYTES, bytesPerSec: Number(line.split(':')[3]) };
    }
  }
  return result;
}

/** Runs `openssl speed` for the chosen primitives, `seconds` per measurement (each primitive takes 1-2 measurements). */
export async function measureOpenssl(select: readonly Primitive[] = ALL_PRIMITIVES, seconds = 2): Promise<OpensslSpeed> {
  const asymmetric = select.filter((p) => p === 'rsa2048' || p === 'ecdsap256' || p === 'ed25519');
  const invocations: string[][] = [];
  const first = [...asymmetric, ...(select.includes('sha256') ? ['sha256'] : [])];
  if (first.length > 0) invocations.push(['speed', '-mr', '-seconds', String(seconds), '-bytes', String(SHA256_BYTES), ...first]);
  // -bytes applies to every digest of one invocation, so the HMAC's smaller block needs its own run.
  if (select.includes('hmac-sha256')) invocations.push(['speed', '-mr', '-seconds', String(seconds), '-bytes', String(HMAC_BYTES), '-hmac', 'sha256']);
  let output = '';
  for (const args of invocations) {
    const measurements = args.filter((a) => ['rsa2048', 'ecdsap256', 'ed25519'].includes(a)).length * 2 + 1;
    // Bounded: a wedged openssl must not stall the whole run.
    const { stdout } = await run('openssl', args, { timeout: (measurements * seconds + 20) * 1000, maxBuffer: 1 << 20 });
    output += stdout;
  }
  return parseOpensslSpeed(output, seconds);
}

export interface Reference {
  label: string;
  opsPerSec: number;
}

/** The openssl figure a task compares against; hashes are scaled from openssl's block size to the task's input size. */
export type ReferenceKey = 'rsa2048.verify' | 'rsa2048.sign' | 'ecdsap256.verify' | 'ed25519.verify' | 'sha256' | 'hmac-sha256';

/** `bytes` is the task's input size, needed to scale sha256. */
export function reference(speed: OpensslSpeed | null, what: ReferenceKey, bytes = 1): Reference | null {
  if (!speed) return null;
  switch (what) {
    case 'rsa2048.verify':
      return speed.rsa2048 ? { label: 'openssl rsa2048 verify', opsPerSec: speed.rsa2048.verify } : null;
    case 'rsa2048.sign':
      return speed.rsa2048 ? { label: 'openssl rsa2048 sign', opsPerSec: speed.rsa2048.sign } : null;
    case 'ecdsap256.verify':
      return speed.ecdsap256 ? { label: 'openssl ecdsap256 verify', opsPerSec: speed.ecdsap256.verify } : null;
    case 'ed25519.verify':
      return speed.ed25519 ? { label: 'openssl ed25519 verify', opsPerSec: speed.ed25519.verify } : null;
    case 'sha256':
      return speed.sha256 ? { label: `openssl sha256 @${speed.sha256.bytes} B, scaled to ${bytes} B`, opsPerSec: speed.sha256.bytesPerSec / bytes } : null;
    case 'hmac-sha256':
      // An HMAC's fixed cost (two key blocks) dominates small messages: compare per message of openssl's size, unscaled.
      return speed.hmacSha256 ? { label: `openssl hmac(sha256) of ${speed.hmacSha256.bytes} B`, opsPerSec: speed.hmacSha256.bytesPerSec / speed.hmacSha256.bytes } : null;
  }
}
