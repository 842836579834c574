/** @module Unit tests: whose budget a terminal request spends — an IPv4 address, or a whole IPv6 /64. */
import { describe, expect, it } from 'vitest';
import { AppError } from '../../../src/errors.js';
import { Admission, rateKeyOf } from '../../../src/net/terminal-admission.js';

const codeOf = (enter: () => void): string => {
  try {
    enter();
    return 'admitted';
  } catch (error) {
    return error instanceof AppError ? error.code : String(error);
  }
};

describe('rateKeyOf', () => {
  it('keeps an IPv4 address, takes an IPv4-mapped one as IPv4, and an IPv6 address as its /64 in any text form', () => {
    expect(rateKeyOf('203.0.113.7')).toBe('203.0.113.7');
    expect(rateKeyOf('::ffff:203.0.113.7')).toBe('203.0.113.7');
    expect(rateKeyOf('0000:0000:0000:0000:0000:ffff:cb00:7107')).toBe('203.0.113.7');
    expect(rateKeyOf('2001:db8:1:2:3:4:5:6')).toBe('2001:db8:1:2::/64');
    expect(rateKeyOf('2001:0db8:0001:0002:ffff:0000:0000:0001')).toBe('2001:db8:1:2::/64');
    expect(rateKeyOf('2001:db8:1:2::9')).toBe('2001:db8:1:2::/64');
    expect(rateKeyOf('2001:db8:1:3::9')).toBe('2001:db8:1:3::/64');
    expect(rateKeyOf('fe80::1%eth0')).toBe('fe80:0:0:0::/64');
    // Not an address (uWS never gives one): its own key, as before.
    expect(rateKeyOf('not:an::address::')).toBe('not:an::address::');
  });
});

describe('Admission', () => {
  it('gives one budget to all the addresses of one IPv6 /64, and another to the next /64', () => {
    const admission = new Admission({ perAddress: { perSecond: 2, burst: 2 }, global: { perSecond: 1e9, burst: 1e9 }, maxInFlight: 1_000 });
    const codes = Array.from({ length: 40 }, (_, i) => codeOf(() => admission.enter(`2001:db8:1:2::${(i + 1).toString(16)}`)));
    expect(codes.filter((c) => c === 'admitted')).toHaveLength(2);
    expect(codes.filter((c) => c === 'rate_limited')).toHaveLength(38);
    expect(codeOf(() => admission.enter('2001:db8:1:3::1'))).toBe('admitted');
    expect(codeOf(() => admission.enter('192.0.2.1'))).toBe('admitted');
  });
});
