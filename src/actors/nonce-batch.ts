/**
 * @module One write-behind batch of nonces: parallel arrays and an open-addressing index over (serial, nonce),
 * reused from batch to batch. Recording or finding a nonce allocates nothing: a map per terminal actor had made
 * two thirds of what a front thread promoted and then threw away at half peak (bench/JOURNAL.md). The nonces'
 * characters are copied into one reused Uint16Array rather than kept as strings: a string per call that lives
 * until the next flush was the largest thing each scavenge copied (HEAP_SAMPLE_KEEP=survivors), and a nonce read
 * out of a header is a slice that would keep the whole header alive too.
 */
import { randomInt } from 'node:crypto';
import { grown } from '../typed-arrays.js';

const EMPTY = 0;
/** Mixed into every hash: a paired terminal choosing its nonces cannot aim them at one probe chain. */
const SEED = randomInt(2 ** 31);
/** Characters per entry the arena starts with; base64 of 16 bytes is 24. */
const CHARS_PER_ENTRY = 32;

export class NonceBatch {
  size = 0;
  private serials: (string | undefined)[];
  /** Every nonce's UTF-16 code units, one after another: entry i's are chars[starts[i], starts[i + 1]). */
  private chars: Uint16Array;
  private starts: Int32Array;
  private created: Float64Array;
  private expiries: Float64Array;
  /** Slot → entry index + 1 (EMPTY when free); twice the entries' capacity, a power of two. */
  private index: Int32Array;

  constructor(capacity = 1024) {
    this.serials = new Array<string | undefined>(capacity).fill(undefined);
    this.chars = new Uint16Array(capacity * CHARS_PER_ENTRY);
    this.starts = new Int32Array(capacity + 1);
    this.created = new Float64Array(capacity);
    this.expiries = new Float64Array(capacity);
    this.index = new Int32Array(indexSize(capacity));
  }

  /** Records the nonce; a nonce already in this batch for this serial (it had expired) is replaced. */
  add(serial: string, nonce: string, createdSec: number, expiresAtSec: number): void {
    let slot = this.find(serial, nonce);
    let entry = slot < 0 ? -1 : this.index[slot]! - 1;
    if (entry < 0) {
      if (this.size === this.serials.length) {
        this.grow();
        slot = this.find(serial, nonce);
      }
      entry = this.size++;
      this.index[~slot] = entry + 1;
      this.serials[entry] = serial;
      this.store(entry, nonce);
    }
    this.created[entry] = createdSec;
    this.expiries[entry] = expiresAtSec;
  }

  /** The expiry this batch holds for (serial, nonce), if any. */
  expiryOf(serial: string, nonce: string): number | undefined {
    const slot = this.find(serial, nonce);
    return slot < 0 ? undefined : this.expiries[this.index[slot]! - 1];
  }

  serial(i: number): string {
    return this.serials[i]!;
  }

  /** A new string for entry i's nonce (flushing is the only reader, twice a second). */
  nonce(i: number): string {
    // Reflect.apply takes the typed array as it is; a spread walks an iterator (137 against 582 ns for 24 chars).
    return Reflect.apply(String.fromCharCode, null, this.chars.subarray(this.starts[i]!, this.starts[i + 1]!)) as string;
  }

  createdAt(i: number): number {
    return this.created[i]!;
  }

  expiresAt(i: number): number {
    return this.expiries[i]!;
  }

  /** Empties the batch for reuse, keeping its capacity and letting go of its serials. */
  clear(): void {
    this.serials.fill(undefined, 0, this.size);
    this.index.fill(EMPTY);
    this.size = 0;
  }

  /** The slot holding (serial, nonce), or ~slot of the free slot where it would go. */
  private find(serial: string, nonce: string): number {
    const mask = this.index.length - 1;
    for (let slot = hashOf(serial, nonce) & mask; ; slot = (slot + 1) & mask) {
      const held = this.index[slot]!;
      if (held === EMPTY) return ~slot;
      if (this.serials[held - 1] === serial && this.holds(held - 1, nonce)) return slot;
    }
  }

  /** Whether entry i's nonce is `nonce`. */
  private holds(i: number, nonce: string): boolean {
    const start = this.starts[i]!;
    if (this.starts[i + 1]! - start !== nonce.length) return false;
    for (let k = 0; k < nonce.length; k++) {
      if (this.chars[start + k] !== nonce.charCodeAt(k)) return false;
    }
    return true;
  }

  /** Appends `nonce`'s characters as entry i's, the entry after the last one. */
  private store(i: number, nonce: string): void {
    const start = this.starts[i]!;
    const end = start + nonce.length;
    if (end > this.chars.length) this.chars = grown(this.chars, Math.max(end, this.chars.length * 2));
    for (let k = 0; k < nonce.length; k++) this.chars[start + k] = nonce.charCodeAt(k);
    this.starts[i + 1] = end;
  }

  private grow(): void {
    const capacity = this.serials.length * 2;
    this.serials.length = capacity;
    this.serials.fill(undefined, this.size);
    this.starts = grown(this.starts, capacity + 1);
    this.created = grown(this.created, capacity);
    this.expiries = grown(this.expiries, capacity);
    this.index = new Int32Array(indexSize(capacity));
    const mask = this.index.length - 1;
    for (let entry = 0; entry < this.size; entry++) {
      let slot = hashOf(this.serials[entry]!, this.nonce(entry)) & mask;
      while (this.index[slot] !== EMPTY) slot = (slot + 1) & mask;
      this.index[slot] = entry + 1;
    }
  }
}

/** At most half full, so a probe ends quickly. */
function indexSize(capacity: number): number {
  let size = 2;
  while (size < capacity * 2) size *= 2;
  return size;
}

/** FNV-1a, seeded, over the nonce and the serial's last characters. */
function hashOf(serial: string, nonce: string): number {
  let hash = 0x811c9dc5 ^ SEED;
  for (let i = 0; i < nonce.length; i++) hash = Math.imul(hash ^ nonce.charCodeAt(i), 0x01000193);
  for (let i = Math.max(0, serial.length - 4); i < serial.length; i++) hash = Math.imul(hash ^ serial.charCodeAt(i), 0x01000193);
  return hash >>> 0;
}
