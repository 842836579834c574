/** @module Deposit address validation per coin: a typo here sends customers' coins nowhere, so checksums are verified, not just shapes. */
import crypto from 'node:crypto';
// Keccak-256 (Ethereum's, not NIST SHA3-256, which node:crypto has): @noble/hashes is audited, dependency-free, and
// already installed with otplib.
import { keccak_256 } from '@noble/hashes/sha3.js';

const BASE58 = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';
const BECH32 = 'qpzry9x8gf2tvdw0s3jn54khce6mua7l';

function base58Decode(text: string): Buffer | null {
  let value = 0n;
  for (const ch of text) {
    const digit = BASE58.indexOf(ch);
    if (digit < 0) return null;
    value = value * 58n + BigInt(digit);
  }
  const bytes: number[] = [];
  while (value > 0n) {
    bytes.unshift(Number(value & 0xffn));
    value >>= 8n;
  }
  for (const ch of text) {
    if (ch !== '1') break;
    bytes.unshift(0);
  }
  return Buffer.from(bytes);
}

/** Base58Check: 4-byte double-SHA-256 checksum; returns the version byte, or null when the checksum fails. */
function base58CheckVersion(text: string): number | null {
  const raw = base58Decode(text);
  if (!raw || raw.length !== 25) return null;
  const payload = raw.subarray(0, 21);
  const sum = crypto.createHash('sha256').update(crypto.createHash('sha256').update(payload).digest()).digest();
  return sum.subarray(0, 4).equals(raw.subarray(21)) ? (payload[0] ?? null) : null;
}

function bech32Polymod(values: number[]): number {
  const GEN = [0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3];
  let chk = 1;
  for (const v of values) {
    const top = chk >>> 25;
    chk = ((chk & 0x1ffffff) << 5) ^ v;
    for (let i = 0; i < 5; i++) if ((top >>> i) & 1) chk ^= GEN[i] ?? 0;
  }
  return chk >>> 0;
}

/** BIP 173 / BIP 350 segwit address with human-readable part `hrp` (bech32 for v0, bech32m for v1+). */
function isSegwit(address: string, hrp: string): boolean {
  const lower = address.toLowerCase();
  if (address !== lower && address !== address.toUpperCase()) return false;
  if (!lower.startsWith(hrp + '1') || lower.length > 90) return false;
  const data = [...lower.slice(hrp.length + 1)].map((c) => BECH32.indexOf(c));
  if (data.length < 7 || data.some((d) => d < 0)) return false;
  const expanded = [...hrp].map((c) => c.charCodeAt(0) >> 5).concat([0], [...hrp].map((c) => c.charCodeAt(0) & 31));
  const check = bech32Polymod(expanded.concat(data));
  const version = data[0] ?? -1;
  const programLength = Math.floor(((data.length - 7) * 5) / 8);
  if (version === 0) return check === 1 && (programLength === 20 || programLength === 32);
  return check === 0x2bc830a3 && version >= 1 && version <= 16 && programLength >= 2 && programLength <= 40;
}

/**
 * An Ethereum-style 20-byte address. EIP-55: an address in one case carries no checksum; in mixed case, each letter is
 * upper case exactly where the Keccak-256 of the lower-case hex has a nibble of 8 or more, so a one-character typo in
 * a checksummed address is caught.
 */
function isEthereumAddress(address: string): boolean {
  if (!/^0x[0-9a-fA-F]{40}$/.test(address)) return false;
  const hex = address.slice(2);
  const lower = hex.toLowerCase();
  if (hex === lower || hex === hex.toUpperCase()) return true;
  const hash = Buffer.from(keccak_256(Buffer.from(lower, 'ascii'))).toString('hex');
  for (let i = 0; i < hex.length; i++) {
    const c = hex[i]!;
    if (c >= '0' && c <= '9') continue;
    if ((parseInt(hash[i]!, 16) >= 8) !== (c !== lower[i])) return false;
  }
  return true;
}

const validators: Record<string, (address: string) => boolean> = {
  BTC: (a) => isSegwit(a, 'bc') || [0x00, 0x05].includes(base58CheckVersion(a) ?? -1),
  LTC: (a) => isSegwit(a, 'ltc') || [0x30, 0x32, 0x05].includes(base58CheckVersion(a) ?? -1),
  DOGE: (a) => [0x1e, 0x16].includes(base58CheckVersion(a) ?? -1),
  DASH: (a) => [0x4c, 0x10].includes(base58CheckVersion(a) ?? -1),
  ETH: isEthereumAddress,
  // As ERC-20 tokens on Ethereum.
  USDT: isEthereumAddress,
  USDC: isEthereumAddress,
};

export const SUPPORTED_COINS = Object.freeze(Object.keys(validators));

const ETHEREUM_FORMAT = 'an Ethereum address: 0x and 40 hex digits, whose mixed case must match EIP-55';
/** What a coin's addresses look like, for the refusal of one that is not. */
export const ADDRESS_FORMATS: Readonly<Record<string, string>> = Object.freeze({
  BTC: 'bc1… (Bech32/Bech32m), 1… or 3… (Base58Check)',
  LTC: 'ltc1… (Bech32/Bech32m), L…, M… or 3… (Base58Check)',
  DOGE: 'D… or A… / 9… (Base58Check)',
  DASH: 'X… or 7… (Base58Check)',
  ETH: ETHEREUM_FORMAT,
  USDT: `${ETHEREUM_FORMAT} (ERC-20 only)`,
  USDC: `${ETHEREUM_FORMAT} (ERC-20 only)`,
});

export function isValidDepositAddress(coin: string, address: string): boolean {
  const validate = validators[coin];
  return validate !== undefined && address.length <= 128 && validate(address);
}
