/**
 * @module `pairing-server identity prepare|promote|status`: the server certificate's rollover, offline on the data dir.
 * prepare and promote need the server stopped (they take the data dir's lock) and are audited as `server.identity_*`.
 */
import type { Config } from '../config.js';
import { time } from '../admin/cli-format.js';
import { formatFingerprint } from '../crypto/fingerprint.js';
import { AppError } from '../errors.js';
import { intendAuditSync } from '../store/audit-intents.js';
import { lockDataDir } from '../store/data-dir-lock.js';
import { writeKeepingSeal } from '../store/index-seal.js';
import type { AuditRecord } from '../store/records.js';
import { Store } from '../store/store.js';
import { requireDataDir } from './data-dir.js';
import { certificateFingerprint } from './identity.js';
import { currentDataDirSfp, prepareNextIdentity, promoteNextIdentity, readNextIdentity, readPreviousIdentity } from './next-identity.js';
import { cliUser } from './os-account.js';

export const IDENTITY_COMMANDS = ['prepare', 'promote', 'status'] as const;
export type IdentityCommand = `identity ${(typeof IDENTITY_COMMANDS)[number]}`;

/** The audit actions of prepare and promote: the server logs them at its next start (OFFLINE_LOGGED_ACTIONS). */
type IdentityAction = 'server.identity_prepare' | 'server.identity_promote';

export interface IdentityFlags {
  json: boolean;
  force: boolean;
}

export async function runIdentityCommand(command: IdentityCommand, config: Config, flags: IdentityFlags): Promise<void> {
  requireDataDir(config.dataDir);
  const out = (json: unknown, text: string): void => void process.stdout.write(flags.json ? JSON.stringify(json) + '\n' : text);
  switch (command) {
    case 'identity status': {
      const status = await identityStatus(config);
      out(status, statusText(status));
      return;
    }
    case 'identity prepare': {
      const from = config.serverKeyFile !== null && config.serverCertFile !== null ? { keyFile: config.serverKeyFile, certFile: config.serverCertFile } : null;
      const detail = { from: from === null ? 'generated' : 'licence', force: flags.force };
      const next = await whileStopped(config, 'server.identity_prepare', detail, () => prepareNextIdentity(config, { from, force: flags.force, served: licenceInEnvironment(config) }),
        (r) => ({ sfp: r.sfp, replaced: r.replaced }));
      out({ sfp: next.sfp, replaced: next.replaced, certFile: next.certFile },
        `next identity prepared in ${next.certFile}${from === null ? ' (a new key)' : ` (a copy of the licence pair ${from.certFile})`}${next.replaced === null ? '' : `, replacing ${next.replaced}`}\n`
        + `next SFP ${sfpLines(next.sfp)}\n`
        + 'Start the server: gate and master announce it to every terminal they answer. Once `cas server status` shows the\n'
        + `terminals seen since, stop the server, run \`pairing-server identity promote --data-dir ${config.dataDir}\` and start it again.\n`);
      return;
    }
    case 'identity promote': {
      const done = await whileStopped(config, 'server.identity_promote', {}, () => promoteNextIdentity(config.dataDir), (r) => ({ sfp: r.sfp, previousSfp: r.previousSfp }))
        .catch((error: unknown) => Promise.reject(afterPromote(error, config.dataDir)));
      const licence = config.serverCertFile === null ? '' : 'Start the server without --server-key/--server-cert (or with the licence pair you prepared): with the old pair it still serves the old certificate.\n';
      out(done, `the next identity is now the current one: SFP ${sfpLines(done.sfp)}\n`
        + (done.previousSfp === null ? '' : `the old pair is kept as tls/previous.key and tls/previous.crt (SFP ${done.previousSfp})\n`)
        + licence
        + 'Start the server: terminals that heard the announcement accept the new certificate at their next call and pin it;\n'
        + `the others refuse it (server_pin_mismatch) until told: terminal pair --expect-sfp ${done.sfp} (docs/ADMIN-OPS.md).\n`
        // The admin service presents the new certificate too: a pinned cas would refuse it at 3 a.m. with no idea why.
        + `Operators move their pin too: CAS_FINGERPRINT=${done.sfp} (or cas --data-dir on this machine), and accept the new certificate in the browser.\n`);
      return;
    }
  }
}

/**
 * A second promote (a retry after a restart that seemed to fail, say) finds nothing prepared: say what the last one did,
 * so that nobody prepares and promotes again to "fix" a rollover that is done.
 */
function afterPromote(error: unknown, dataDir: string): unknown {
  if (!(error instanceof AppError) || error.code !== 'not_found') return error;
  const previous = readPreviousIdentity(dataDir)?.sfp ?? null;
  const current = currentDataDirSfp(dataDir);
  if (previous === null || current === null) return error;
  return new AppError('not_found', `${error.message}. The last promote is done: the current SFP is ${current} (the previous one, ${previous}, is kept as tls/previous.*); \`identity status\` shows both`);
}

interface IdentityStatus {
  current: string | null;
  next: string | null;
  /** Since when a running server announced the next (the store's record), if one did. */
  announcedSince: string | null;
  previous: string | null;
}

/**
 * The SFP of the licence certificate PAIRING_SERVER_CERT names, or null: a service deployed with its licence in the
 * environment serves that one, and `identity prepare` run in the same environment would otherwise copy it as the next.
 */
function licenceInEnvironment(config: Config): string | null {
  if (config.environmentCertFile === null) return null;
  try {
    return certificateFingerprint(config.environmentCertFile);
  } catch {
    // Unreadable: `serve` says so at its start; prepare makes no claim about it.
    return null;
  }
}

/** Reads only, also while the server runs. With --server-cert the current certificate is that one, as `fingerprint` takes it. */
async function identityStatus(config: Config): Promise<IdentityStatus> {
  const current = config.serverCertFile !== null ? certificateFingerprint(config.serverCertFile) : currentDataDirSfp(config.dataDir);
  const next = readNextIdentity(config.dataDir)?.sfp ?? null;
  let announcedSince: string | null = null;
  if (next !== null) {
    const store = Store.open(config.dataDir, { fieldKey: false });
    try {
      const kept = store.settings.get('next-identity');
      if (kept?.sfp === next) announcedSince = new Date(kept.announcedSince).toISOString();
    } finally {
      await store.close();
    }
  }
  return { current, next, announcedSince, previous: readPreviousIdentity(config.dataDir)?.sfp ?? null };
}

/** An SFP as `pairing-server fingerprint` prints it, and below it with colons, as a browser's certificate viewer shows it. */
const sfpLines = (sfp: string): string => `${sfp}\n         ${formatFingerprint(sfp)}`;

function statusText(s: IdentityStatus): string {
  const announced = s.next === null ? '' : s.announcedSince === null ? '\n         not announced yet: start the server' : `\n         announced since ${time(s.announcedSince)}`;
  return `current  ${s.current === null ? '(none in the data dir: the server runs with --server-key/--server-cert)' : sfpLines(s.current)}\n`
    + `next     ${s.next === null ? '(none prepared)' : sfpLines(s.next)}${announced}\n`
    + `previous ${s.previous === null ? '(none)' : sfpLines(s.previous)}\n`;
}

/**
 * Runs `act` under the data dir's lock, audited by the OS user with `detail.result` (ok or the refusal's code), as the
 * `users` commands are. `serve` reads tls/ only at its start, so neither command could take effect in a running server:
 * a running one is named instead, and nothing is changed.
 */
async function whileStopped<T>(config: Config, action: IdentityAction, detail: Record<string, unknown>, act: () => T, okDetail: (value: T) => Record<string, unknown>): Promise<T> {
  let lock: Awaited<ReturnType<typeof lockDataDir>>;
  try {
    lock = await lockDataDir(config.dataDir);
  } catch (error) {
    if (!(error instanceof AppError) || error.code !== 'conflict') throw error;
    const pid = typeof error.details?.pid === 'number' ? ` (pid ${error.details.pid})` : '';
    throw new AppError('conflict', `${action.replace('server.identity_', 'identity ')} needs the server stopped: a pairing-server${pid} runs on ${config.dataDir}, and reads tls/ only at its start; nothing was changed. Stop it, run this again, and start it.`, error.details);
  }
  try {
    const store = Store.open(config.dataDir);
    // Each write keeps the seal of the server's clean stop (index-seal.ts): both keep every index, and the lock keeps any
    // server away, so the next start stays a sealed one instead of checking every index (seconds at fleet scale).
    const append = (record: Omit<AuditRecord, 'seq' | 'prevHash' | 'hash'>, settles: string): Promise<unknown> =>
      writeKeepingSeal(store, () => store.appendAuditSync(record, settles));
    try {
      const entry = { at: Date.now(), user: cliUser(), action, target: null };
      // Written ahead, on disk before the change (audit-intents.ts): a command killed after its change and before its
      // entry is audited as interrupted.
      const { value: intent } = await writeKeepingSeal(store, () => intendAuditSync(store, 'command', { ...entry, detail }));
      let value: T;
      try {
        value = act();
      } catch (error) {
        await append({ ...entry, at: Date.now(), detail: { ...detail, result: error instanceof AppError ? error.code : 'internal_error' } }, intent);
        throw error;
      }
      await append({ ...entry, at: Date.now(), detail: { ...detail, ...okDetail(value), result: 'ok' } }, intent);
      return value;
    } finally {
      await store.close();
    }
  } finally {
    await lock.release();
  }
}
