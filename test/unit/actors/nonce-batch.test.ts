/** @module Unit tests: the write-behind's nonce batch, an open-addressing index reused from batch to batch. */
import { describe, expect, it } from 'vitest';
import { NonceBatch } from '../../../src/actors/nonce-batch.js';

describe('NonceBatch', () => {
  it('finds every nonce it holds through several growths, per serial, and nothing else', () => {
    const batch = new NonceBatch(4);
    for (let i = 0; i < 5_000; i++) batch.add(`ATM-${i % 37}`, `nonce-${i}`, 1_000 + i, 2_000 + i);
    expect(batch.size).toBe(5_000);
    for (let i = 0; i < 5_000; i++) {
      expect(batch.expiryOf(`ATM-${i % 37}`, `nonce-${i}`)).toBe(2_000 + i);
      expect(batch.expiryOf(`ATM-${(i + 1) % 37}`, `nonce-${i}`)).toBeUndefined(); // same nonce, another terminal
    }
    expect(batch.expiryOf('ATM-0', 'never-added')).toBeUndefined();
    expect([batch.serial(36), batch.nonce(36), batch.createdAt(36), batch.expiresAt(36)]).toEqual(['ATM-36', 'nonce-36', 1_036, 2_036]);
  });

  it('replaces a nonce added again (it had expired) instead of holding it twice', () => {
    const batch = new NonceBatch();
    batch.add('ATM-1', 'n', 100, 401);
    batch.add('ATM-1', 'n', 500, 801);
    expect(batch.size).toBe(1);
    expect(batch.expiryOf('ATM-1', 'n')).toBe(801);
    expect(batch.createdAt(0)).toBe(500);
  });

  it('is empty after clear and works again at the same capacity', () => {
    const batch = new NonceBatch(8);
    for (let i = 0; i < 8; i++) batch.add('ATM-1', `a${i}`, 1, 2);
    batch.clear();
    expect(batch.size).toBe(0);
    expect(batch.expiryOf('ATM-1', 'a3')).toBeUndefined();
    batch.add('ATM-1', 'b', 3, 4);
    expect(batch.expiryOf('ATM-1', 'b')).toBe(4);
    expect(batch.nonce(0)).toBe('b');
  });

  it('keeps any string exactly, long ones and lone surrogates too, and tells apart nonces that share a prefix', () => {
    const batch = new NonceBatch(2);
    const odd = ['\ud800x', 'é'.repeat(40), 'A'.repeat(5_000), 'AAAA', 'AAAAB', ''];
    odd.forEach((nonce, i) => batch.add('ATM-1', nonce, i, 10 + i));
    odd.forEach((nonce, i) => {
      expect(batch.nonce(i)).toBe(nonce);
      expect(batch.expiryOf('ATM-1', nonce)).toBe(10 + i);
    });
    expect(batch.expiryOf('ATM-1', 'AAA')).toBeUndefined();
    expect(batch.expiryOf('ATM-1', 'A'.repeat(4_999))).toBeUndefined();
  });

  it('finds a nonce by its characters, whatever string carries them (a slice of a header, a join)', () => {
    const batch = new NonceBatch();
    const header = `sig=("@method");nonce="${'q'.repeat(22)}=="`;
    batch.add('ATM-1', header.slice(23, 47), 1, 2);
    expect(batch.expiryOf('ATM-1', ['q'.repeat(22), '=='].join(''))).toBe(2);
  });
});
