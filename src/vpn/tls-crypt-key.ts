/** @module The OpenVPN tls-crypt key: 2048 random bits in the "OpenVPN Static key V1" text format that `openvpn --genkey secret` writes. */
import { randomBytes } from 'node:crypto';

const KEY_BYTES = 256;
const BEGIN = '-----BEGIN OpenVPN Static key V1-----';
const END = '-----END OpenVPN Static key V1-----';

/** A fresh key file's text: a comment header, then 16 lines of 32 hex digits between the markers. */
export function generateTlsCryptKey(): string {
  const lines = randomBytes(KEY_BYTES).toString('hex').match(/.{32}/g)!;
  return ['#', '# 2048 bit OpenVPN static key', '#', BEGIN, ...lines, END, ''].join('\n');
}

/** True for text OpenVPN would read as a 2048-bit static key (comments before the markers are allowed). */
export function isTlsCryptKey(text: string): boolean {
  const start = text.indexOf(BEGIN);
  const end = text.indexOf(END);
  if (start < 0 || end < start) return false;
  const hex = text.slice(start + BEGIN.length, end).replace(/\s+/g, '');
  return /^[0-9a-f]+$/.test(hex) && hex.length === KEY_BYTES * 2;
}
