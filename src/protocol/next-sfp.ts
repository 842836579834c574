/**
 * @module The announcement of the server's next certificate (PROTOCOL.md, "Certificate rollover"): the header gate and
 * master answer with while a next identity is prepared, and how a terminal reads its value.
 */

/** Lower case, as Node's HTTP client gives header names; on the wire `Pairing-Next-SFP` (names are case-insensitive). */
export const NEXT_SFP_HEADER = 'pairing-next-sfp';

/** What one answer said: nothing, an SFP (lowercase hex), or a value that is not one (ignored, and logged). */
export type NextSfpAnnouncement = { kind: 'none' } | { kind: 'sfp'; sfp: string } | { kind: 'malformed'; value: string };

const SFP = /^[0-9a-f]{64}$/i;

/**
 * The header's value as Node's client gives it: absent, one string (a header sent twice arrives joined with ", ",
 * which is no SFP), or an array. Exactly 64 hex digits, any case: no colons, no spaces, nothing else.
 */
export function parseNextSfp(value: string | string[] | undefined): NextSfpAnnouncement {
  if (value === undefined) return { kind: 'none' };
  const text = Array.isArray(value) ? value.join(', ') : value;
  return SFP.test(text) ? { kind: 'sfp', sfp: text.toLowerCase() } : { kind: 'malformed', value: text };
}
