/** @module Composite string keys (serial, then an id or a nonce): how they are built and read back from a range. */

/** Separator for composite string keys; serials and ids are validated to contain no control characters. */
export const SEP = '\u0000';
/** The first string after every key that begins with a prefix and SEP: the end of a prefix's range. */
export const AFTER_SEP = '\u0001';

export const compositeKey = (...parts: string[]): string => parts.join(SEP);

/**
 * A composite key as read back from a range. lmdb 3.5 (ordered-binary) writes a string key of 64 characters or more
 * with its NULs as raw separators, which reads back as an array of the parts and sorts apart from the shorter keys,
 * whose NULs are escaped. `get` and `put` agree with each other either way; ranges and key parsing must not assume
 * one encoding (test/unit/actors/replay-window.test.ts and test/unit/vpn/vpn-service.test.ts write such keys).
 */
export function keyText(key: unknown): string {
  return Array.isArray(key) ? key.map(String).join(SEP) : String(key);
}
