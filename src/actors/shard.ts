/** @module Which thread owns a serial's actor: a stable hash, so every thread agrees without asking. */

/** FNV-1a over the serial's UTF-16 code units; serials are short, so this costs well under a microsecond. */
export function shardOf(serial: string, shards: number): number {
  if (shards <= 1) return 0;
  let hash = 0x811c9dc5;
  for (let i = 0; i < serial.length; i++) {
    hash ^= serial.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0) % shards;
}
