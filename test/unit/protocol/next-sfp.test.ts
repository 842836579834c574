/** @module How a terminal reads the server's announcement of its next certificate: 64 hex digits exactly, anything else malformed. */
import { describe, expect, it } from 'vitest';
import { parseNextSfp } from '../../../src/protocol/next-sfp.js';

const SFP = 'c0ffee'.repeat(10) + 'beef';

describe('parseNextSfp', () => {
  it('takes 64 hex digits, in lower case whatever case they came in', () => {
    expect(parseNextSfp(SFP)).toEqual({ kind: 'sfp', sfp: SFP });
    expect(parseNextSfp(SFP.toUpperCase())).toEqual({ kind: 'sfp', sfp: SFP });
  });

  it('is none without the header', () => {
    expect(parseNextSfp(undefined)).toEqual({ kind: 'none' });
  });

  it.each([
    ['empty', ''],
    ['one digit short', SFP.slice(1)],
    ['one digit long', `${SFP}0`],
    ['not hex', `${SFP.slice(1)}g`],
    ['with colons, as people write it', SFP.match(/../g)!.join(':')],
    ['with a space inside', `${SFP.slice(0, 32)} ${SFP.slice(32)}`],
    ['sent twice (Node joins the values)', `${SFP}, ${SFP}`],
    ['base64 of the digest', Buffer.from(SFP, 'hex').toString('base64')],
  ])('is malformed when %s', (_, value) => {
    expect(parseNextSfp(value)).toEqual({ kind: 'malformed', value });
  });

  it('is malformed when given as several values', () => {
    expect(parseNextSfp([SFP, SFP])).toEqual({ kind: 'malformed', value: `${SFP}, ${SFP}` });
  });
});
