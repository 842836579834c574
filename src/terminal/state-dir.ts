/** @module The terminal's persistent state directory: key.pem (0600, never leaves the terminal), cert.pem and state.json, written atomically. */
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { removeTemporaries, writeFileDurably } from '../durable-file.js';
import { AppError, errnoOf } from '../errors.js';
import { SIGNATURE_ALGORITHMS, type KeyKind, type PairingStage, type SignatureAlgorithm } from '../protocol/types.js';

export const KEY_FILE = 'key.pem';
export const CERT_FILE = 'cert.pem';
export const STATE_FILE = 'state.json';

/** A pairing attempt in progress: what a second `pair` needs to resume it. */
export interface PendingPairing {
  requestId: string;
  /** base64 of the secret 32-byte nonce; stays in this directory, never printed or logged. */
  terminalNonce: string;
  commitment: string;
  serverNonce: string;
  /** The code this terminal computed with the SFP it actually saw. */
  code: string;
  stage: PairingStage;
  expiresAt: string | null;
}

export interface ServerSettings {
  /** Origin of the gate, e.g. `https://host:7741`; null until the first `pair`. */
  gateUrl: string | null;
  masterUrl: string | null;
  /** The pinned Server Certificate Fingerprint; null until the first gate contact. */
  sfp: string | null;
  vpn: unknown;
  /**
   * A gate `set-server` named for a terminal that had something to lose (paired, or a pairing in progress):
   * the next `pair` goes there and switches over only once that gate answers. Absent in older state files.
   */
  nextGateUrl?: string | null;
  /** The SFP `set-server --expect-sfp` gave for `nextGateUrl` (lowercase hex); null or absent: the gate must present the pinned one. */
  nextGateSfp?: string | null;
  /**
   * The pinned SFP was given out of band (`--expect-sfp`, carried over from a vouched pin in a gate switch) or a gate
   * under it already trusted this terminal; false: it is what the first gate contact presented (trust on first use).
   * Absent in older state files: see `pinVouched`.
   */
  sfpVouched?: boolean;
  /**
   * The SFP the pinned server announced for its next certificate (`Pairing-Next-SFP`, PROTOCOL.md "Certificate
   * rollover"): a server presenting it is accepted, and it becomes the pin. Only ever learned over a connection that
   * presented the pinned SFP; forgotten with the pin. Absent in older state files.
   */
  announcedSfp?: string | null;
}

export interface StoredState {
  version: 1;
  serial: string;
  keyKind: KeyKind;
  alg: SignatureAlgorithm;
  tfp: string;
  createdAt: string;
  server: ServerSettings;
  pairing: PendingPairing | null;
  paired: boolean;
  /** When a server answer last confirmed `paired` (trusted gate answer, successful master call); absent in older state files. */
  pairedConfirmedAt?: string | null;
}

export const emptyServer = (): ServerSettings => ({ gateUrl: null, masterUrl: null, sfp: null, vpn: null });

/**
 * Whether the pinned SFP can be believed when its gate declares this terminal trusted without a code shown (gate-pairing.ts).
 * A state file from before `sfpVouched` vouches for a pin under which it was paired.
 */
export function pinVouched(state: StoredState): boolean {
  if (state.server.sfp === null) return false;
  return state.server.sfpVouched ?? (state.paired || (state.pairedConfirmedAt ?? null) !== null);
}

const KEY_KINDS: readonly string[] = ['rsa', 'ec', 'ed25519'];

/** Shape check for state read from disk or from a restore point. */
export function isStoredState(value: unknown): value is StoredState {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Partial<StoredState>;
  return (
    v.version === 1 &&
    typeof v.serial === 'string' &&
    typeof v.tfp === 'string' &&
    typeof v.paired === 'boolean' &&
    KEY_KINDS.includes(v.keyKind as string) &&
    (SIGNATURE_ALGORITHMS as readonly string[]).includes(v.alg as string) &&
    typeof v.server === 'object' &&
    v.server !== null &&
    (typeof v.pairing === 'object' || v.pairing === undefined)
  );
}

/** One terminal's state directory. Synchronous: a terminal is one process and these files are tiny. */
export class StateDir {
  readonly path: string;

  constructor(path: string) {
    this.path = path;
  }

  /** state.json is written last by init and restore, so its presence means the identity is complete. */
  exists(): boolean {
    return existsSync(join(this.path, STATE_FILE));
  }

  read(): StoredState {
    let text: string;
    try {
      text = readFileSync(join(this.path, STATE_FILE), 'utf8');
    } catch (err) {
      if (errnoOf(err) === 'ENOENT') {
        throw new AppError('not_initialized', `no terminal in ${this.path}; run \`terminal init --serial SERIAL\` first`);
      }
      throw err;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = null;
    }
    if (!isStoredState(parsed)) {
      throw new AppError('invalid_state', `${join(this.path, STATE_FILE)} is damaged; restore a backup or factory-reset`);
    }
    return { ...parsed, pairing: parsed.pairing ?? null };
  }

  save(state: StoredState): void {
    this.write(STATE_FILE, `${JSON.stringify(state, null, 2)}\n`, 0o600);
  }

  privateKeyPem(): string {
    return this.readFile(KEY_FILE);
  }

  certificatePem(): string {
    return this.readFile(CERT_FILE);
  }

  /** Writes key and certificate; the caller saves state.json afterwards (MUST be last, see `exists`). */
  writeIdentity(privateKeyPem: string, certPem: string): void {
    this.write(KEY_FILE, privateKeyPem, 0o600);
    this.write(CERT_FILE, certPem, 0o644);
  }

  /** Factory reset: state first, so a crash midway leaves an uninitialized directory rather than a half identity. */
  wipe(): void {
    for (const name of [STATE_FILE, KEY_FILE, CERT_FILE]) rmSync(join(this.path, name), { force: true });
    this.removeLeftovers();
  }

  /**
   * Temp files a crash (SIGKILL, power loss) left between write and rename: a copy of a key or state that nothing else
   * removes. Safe at any time under the state lock, which every writer holds (state-lock.ts): no write is in flight.
   */
  private removeLeftovers(): void {
    removeTemporaries(this.path, [STATE_FILE, KEY_FILE, CERT_FILE]);
  }

  private readFile(name: string): string {
    try {
      return readFileSync(join(this.path, name), 'utf8');
    } catch (err) {
      if (errnoOf(err) === 'ENOENT') {
        throw new AppError('invalid_state', `${join(this.path, name)} is missing; restore a backup or factory-reset`);
      }
      throw err;
    }
  }

  private ensureDir(): void {
    // Only a directory we create is forced to 0700; chmod-ing a directory the user chose (say ".") would surprise them.
    if (mkdirSync(this.path, { recursive: true, mode: 0o700 }) !== undefined) chmodSync(this.path, 0o700);
  }

  /** Temp file + fsync + rename + fsync of the directory (writeFileDurably): a crash leaves the old file or the new one, never a torn one. */
  private write(name: string, data: string, mode: number): void {
    this.ensureDir();
    this.removeLeftovers();
    const target = join(this.path, name);
    // The temp file is created with `mode` before any byte is written, so a key is never on disk world-readable.
    writeFileDurably(target, data, mode, { replace: true });
    chmodSync(target, mode); // the umask may have narrowed it; never widens beyond `mode`
  }
}
