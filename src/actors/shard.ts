/** @module Stable hashes of serials: every thread computes the same ones without asking. */

/** FNV-1a over the serial's UTF-16 code units; serials are short, so this costs well under a microsecond. */
export function serialHash(serial: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < serial.length; i++) {
    hash ^= serial.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

/** The thread a serial's actor starts on when no thread holds its lease yet and nothing else decides (serial-leases.ts). */
export function shardOf(serial: string, shards: number): number {
  return shards <= 1 ? 0 : serialHash(serial) % shards;
}
