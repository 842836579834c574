/** @module The audit log's hash chain: each entry carries the SHA-256 of its content and of the entry before, so an edit or a deletion shows. */
import crypto from 'node:crypto';
import type { Database } from 'lmdb';
import type { AuditRecord } from './records.js';

export const GENESIS_HASH = '0'.repeat(64);

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/**
 * An entry's content as the store gives it back. The store keeps strings as UTF-8, where half of a surrogate pair has no
 * encoding: it reads back as U+FFFD. An entry hashed before that change would never verify again, and one anonymous
 * login with such a user name (JSON allows "\ud800") once made `audit verify` report the whole log as edited.
 */
export function storable<T>(value: T): T {
  if (typeof value === 'string') return value.replace(LONE_SURROGATE, '\uFFFD') as T;
  if (Array.isArray(value)) return value.map(storable) as T;
  if (value !== null && typeof value === 'object' && !(value instanceof Uint8Array)) {
    return Object.fromEntries(Object.entries(value).map(([key, inner]) => [storable(key), storable(inner)])) as T;
  }
  return value;
}

/** The hash of an entry: over a fixed field order, so the same entry always hashes the same. */
export function auditHash(entry: Omit<AuditRecord, 'hash'>): string {
  const canonical = JSON.stringify([entry.seq, entry.at, entry.user, entry.action, entry.target, entry.detail ?? null, entry.prevHash]);
  return crypto.createHash('sha256').update(canonical).digest('hex');
}

export type ChainVerdict =
  | { ok: true; entries: number; head: string }
  | { ok: false; entries: number; firstBroken: number; reason: string };

/**
 * An entry's place and hash as recorded outside the store: the server logs its head in every `server status` line.
 * The chain alone has no key, so whoever can write the store can cut its newest entries, or edit one and hash every
 * entry after it again, and the chain still holds; an anchor kept elsewhere (the shipped logs) shows both.
 */
export interface AuditAnchor {
  seq: number;
  hash: string;
}

/** `SEQ:HASH`, as `audit verify --head` takes it; null when it is not that. */
export function parseAuditAnchor(text: string): AuditAnchor | null {
  const match = /^(\d{1,15}):([0-9a-f]{64})$/.exec(text.trim().toLowerCase());
  return match && Number(match[1]) > 0 ? { seq: Number(match[1]), hash: match[2]! } : null;
}

/** The newest entry's place and hash; null for an empty log. */
export function auditHeadOf(audit: Database<AuditRecord, number>): AuditAnchor | null {
  for (const { value } of audit.getRange({ reverse: true, limit: 1 })) return { seq: value.seq, hash: value.hash };
  return null;
}

/** Walks the log in order; names the first entry whose sequence, link or own hash does not hold, or that an anchor contradicts. */
export function verifyAuditChain(entries: Iterable<AuditRecord>, anchor?: AuditAnchor): ChainVerdict {
  let expectedSeq = 1;
  let prev = GENESIS_HASH;
  let count = 0;
  for (const entry of entries) {
    count++;
    if (entry.seq !== expectedSeq) return { ok: false, entries: count, firstBroken: entry.seq, reason: `expected entry ${expectedSeq} here: an entry is missing` };
    if (entry.prevHash !== prev) return { ok: false, entries: count, firstBroken: entry.seq, reason: 'its link to the entry before does not match' };
    const { hash, ...content } = entry;
    if (auditHash(content) !== hash) return { ok: false, entries: count, firstBroken: entry.seq, reason: 'its content does not match its hash (edited)' };
    if (anchor?.seq === entry.seq && anchor.hash !== hash) {
      return { ok: false, entries: count, firstBroken: entry.seq, reason: 'its hash is not the one recorded for it (the entries up to it were rewritten and hashed again)' };
    }
    prev = hash;
    expectedSeq++;
  }
  if (anchor && anchor.seq > count) {
    return { ok: false, entries: count, firstBroken: count + 1, reason: `the log ends at entry ${count}, but entry ${anchor.seq} was recorded: the newest entries were removed` };
  }
  return { ok: true, entries: count, head: prev };
}
