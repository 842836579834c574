/**
 * @module The next TLS identity in the data dir: prepared whole, promoted with the old pair kept, and a promotion a
 * crash cut short between server.key and server.crt finished rather than left as a pair that does not belong together.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { loadConfig } from '../../../src/config.js';
import { AppError } from '../../../src/errors.js';
import { certificateFingerprint, ensureServerIdentity, identityPaths } from '../../../src/server/identity.js';
import { finishPromotion, nextIdentityPaths, prepareNextIdentity, promoteNextIdentity, readNextIdentity, readPreviousIdentity } from '../../../src/server/next-identity.js';
import { settleRollover } from '../../../src/server/rollover.js';
import { createLogger } from '../../../src/logger.js';

const configFor = (dir: string) => loadConfig({ 'data-dir': dir, host: '127.0.0.1' }, {});

function servedDataDir(): { dir: string; sfp: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'next-identity-'));
  return { dir, sfp: ensureServerIdentity(configFor(dir)).sfp };
}

function pairBelongs(files: { keyFile: string; certFile: string }): boolean {
  return new crypto.X509Certificate(fs.readFileSync(files.certFile)).checkPrivateKey(crypto.createPrivateKey(fs.readFileSync(files.keyFile)));
}

const codeOf = (fn: () => unknown): string => {
  try {
    fn();
  } catch (error) {
    return error instanceof AppError ? error.code : String(error);
  }
  return 'ok';
};

describe('the next identity', () => {
  it('is prepared as a whole owner-only pair, once, and promoted with the old pair kept as previous', () => {
    const { dir, sfp } = servedDataDir();
    expect(readNextIdentity(dir)).toBeNull();
    const next = prepareNextIdentity(configFor(dir), { from: null, force: false });
    expect(pairBelongs(next)).toBe(true);
    expect(fs.statSync(next.keyFile).mode & 0o777).toBe(0o600);
    expect(codeOf(() => prepareNextIdentity(configFor(dir), { from: null, force: false }))).toBe('already_exists');

    expect(promoteNextIdentity(dir)).toEqual({ sfp: next.sfp, previousSfp: sfp });
    expect(certificateFingerprint(identityPaths(dir).certFile)).toBe(next.sfp);
    expect(pairBelongs(identityPaths(dir))).toBe(true);
    expect(readPreviousIdentity(dir)?.sfp).toBe(sfp);
    // Every private key the rollover writes or moves stays owner-only, in an owner-only folder.
    const modeOf = (file: string): number => fs.statSync(file).mode & 0o777;
    expect([identityPaths(dir).keyFile, readPreviousIdentity(dir)!.keyFile, path.join(dir, 'tls')].map(modeOf)).toEqual([0o600, 0o600, 0o700]);
    expect(readNextIdentity(dir)).toBeNull();
    expect(codeOf(() => promoteNextIdentity(dir))).toBe('not_found');
  });

  it('takes a licence pair, but not the current certificate again', () => {
    const { dir } = servedDataDir();
    const { dir: other, sfp: licenceSfp } = servedDataDir();
    expect(prepareNextIdentity(configFor(dir), { from: identityPaths(other), force: false }).sfp).toBe(licenceSfp);
    expect(codeOf(() => prepareNextIdentity(configFor(dir), { from: identityPaths(dir), force: true }))).toBe('conflict');
  });

  it('finishes a promotion cut short after server.key was replaced and before server.crt was', () => {
    const { dir } = servedDataDir();
    const next = prepareNextIdentity(configFor(dir), { from: null, force: false });
    // What the crash leaves: the marker written, the new key in place beside the old certificate.
    fs.writeFileSync(path.join(dir, 'tls', 'promoting'), `${next.sfp}\n`);
    fs.copyFileSync(next.keyFile, identityPaths(dir).keyFile);
    expect(pairBelongs(identityPaths(dir))).toBe(false);

    expect(finishPromotion(dir)).toBe(true);
    expect(pairBelongs(identityPaths(dir))).toBe(true);
    expect(certificateFingerprint(identityPaths(dir).certFile)).toBe(next.sfp);
    expect(fs.existsSync(nextIdentityPaths(dir).certFile)).toBe(false);
    expect(fs.existsSync(path.join(dir, 'tls', 'promoting'))).toBe(false);
    expect(finishPromotion(dir)).toBe(false);
  });

  it('recovers from a promotion cut short at any of its writes or removals: the next start serves a whole pair, old or new', () => {
    const log = createLogger({ level: 'silent', pretty: false });
    // Every file change promote makes goes through one of these (writeFileDurably renames its temporary into place).
    const steps = ['renameSync', 'rmSync'] as const;
    let cuts = 0;
    for (let cutAt = 0; ; cutAt++) {
      const { dir, sfp: old } = servedDataDir();
      const next = prepareNextIdentity(configFor(dir), { from: null, force: false });
      let calls = 0;
      const spies = steps.map((name) => {
        const real = fs[name].bind(fs) as (...args: unknown[]) => void;
        return vi.spyOn(fs, name).mockImplementation(((...args: unknown[]) => {
          if (calls++ === cutAt) throw new Error(`cut short at change ${cutAt}`);
          real(...args);
        }) as never);
      });
      let finished: boolean;
      try {
        promoteNextIdentity(dir);
        finished = true;
      } catch (error) {
        expect(String(error)).toContain('cut short');
        finished = false;
      } finally {
        for (const spy of spies) spy.mockRestore();
      }
      if (finished) break;
      cuts++;
      // The next start, as startServer runs it: settle the rollover, then read (or make) the identity.
      settleRollover(dir, log);
      const served = ensureServerIdentity(configFor(dir));
      expect(served.generated, `cut at ${cutAt}`).toBe(false);
      expect(pairBelongs(identityPaths(dir)), `cut at ${cutAt}`).toBe(true);
      expect([old, next.sfp], `cut at ${cutAt}`).toContain(served.sfp);
      if (served.sfp === old) {
        // Not switched: the next identity is still prepared, and promote finishes the job.
        expect(readNextIdentity(dir)?.sfp, `cut at ${cutAt}`).toBe(next.sfp);
        expect(promoteNextIdentity(dir).sfp).toBe(next.sfp);
        expect(pairBelongs(identityPaths(dir))).toBe(true);
      }
      expect(readNextIdentity(dir), `cut at ${cutAt}`).toBeNull();
      expect(certificateFingerprint(identityPaths(dir).certFile), `cut at ${cutAt}`).toBe(next.sfp);
      expect(fs.existsSync(path.join(dir, 'tls', 'promoting')), `cut at ${cutAt}`).toBe(false);
    }
    // previous.crt removed and written, previous.key, the marker, server.key, server.crt, next.crt, next.key, the marker.
    expect(cuts).toBeGreaterThanOrEqual(9);
  });
});
