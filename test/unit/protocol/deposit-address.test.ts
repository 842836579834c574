/** @module Deposit address checks: published test vectors of each format, and the one-character typos a checksum exists to catch. */
import { describe, expect, it } from 'vitest';
import { ADDRESS_FORMATS, isValidDepositAddress, SUPPORTED_COINS } from '../../../src/protocol/deposit-address.js';

/** The first letter of the hex part in the other case: a typo EIP-55 must catch. */
function flipCase(address: string): string {
  const i = [...address].findIndex((c, n) => n > 1 && /[a-fA-F]/.test(c));
  const c = address[i]!;
  return address.slice(0, i) + (c === c.toUpperCase() ? c.toLowerCase() : c.toUpperCase()) + address.slice(i + 1);
}

describe('deposit addresses', () => {
  // EIP-55's own examples: mixed case (checksummed), all upper and all lower case (no checksum).
  const eip55 = [
    '0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed', '0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359',
    '0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB', '0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb',
    '0x52908400098527886E0F7030069857D2E4169EE8', '0xde709f2102306220921060314715629080e2fb77',
  ];

  it.each(['ETH', 'USDT', 'USDC'])('%s: accepts EIP-55 addresses and refuses a mixed-case one whose checksum fails', (coin) => {
    for (const address of eip55) expect(isValidDepositAddress(coin, address), address).toBe(true);
    for (const address of eip55.slice(0, 4)) expect(isValidDepositAddress(coin, flipCase(address)), flipCase(address)).toBe(false);
    expect(isValidDepositAddress(coin, '0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAe')).toBe(false);
    expect(isValidDepositAddress(coin, '5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed')).toBe(false);
  });

  it('checks BTC in Bech32, Bech32m and Base58Check, and refuses a one-character typo', () => {
    for (const address of ['bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq', 'bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0', '1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2', '3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy']) {
      expect(isValidDepositAddress('BTC', address), address).toBe(true);
    }
    for (const address of ['bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdx', '1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN3']) {
      expect(isValidDepositAddress('BTC', address), address).toBe(false);
    }
  });

  it('knows no other coin, and can say what each coin\'s addresses look like', () => {
    expect(isValidDepositAddress('XRP', 'rN7n7otQDd6FczFgLdSqtcsAUxDkw6fzRH')).toBe(false);
    for (const coin of SUPPORTED_COINS) expect(ADDRESS_FORMATS[coin], coin).toBeTruthy();
  });
});
