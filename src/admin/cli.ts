#!/usr/bin/env node
/** @module `cas`, the operator CLI: parses the command, reads the password, opens the pinned admin channel, runs one op or watches events. */
import { EXIT_FAILED, EXIT_OK, UsageError, errorJson, errorText, exitCodeOf } from '../cli-errors.js';
import { readFirstLine } from '../cli-input.js';
import { AppError } from '../errors.js';
import type { AdminPush } from '../protocol/types.js';
import { AdminClient, type SessionInfo } from './admin-client.js';
import { DEFAULT_ADMIN_URL, parseCli, resolveConnection } from './cli-args.js';
import type { CommandSpec } from './cli-commands.js';
import type { ImportSummary } from './terminal-import.js';
import { exportProgress, importProgress, renderPush, renderResult } from './cli-format.js';
import { loadSession, removeSession, saveSession, sessionFile } from './cli-session.js';
import { isInteractive, promptTotp, readPassword, type CliIo } from './cli-prompt.js';
import { isMainModule } from '../main-module.js';

export interface RunOptions {
  io?: CliIo;
  env?: NodeJS.ProcessEnv;
  /** Ends `watch`; by default SIGINT / SIGTERM do. */
  stop?: AbortSignal;
}

/** Runs one `cas` invocation and returns the exit code (cli-errors.ts). */
export async function runCli(argv: readonly string[], options: RunOptions = {}): Promise<number> {
  const io = options.io ?? { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr };
  const env = options.env ?? process.env;
  try {
    const invocation = parseCli(argv);
    if (invocation.kind === 'help') {
      io.stdout.write(invocation.text);
      return EXIT_OK;
    }
    const { globals, command } = invocation;
    let { args } = invocation;
    let exitCode: number = EXIT_OK;
    // Refused before anything is sent: nobody is there to answer the question.
    const confirming = command.confirm?.needed(args ?? {}) === true && invocation.values.yes !== true;
    if (confirming && !isInteractive(io)) throw new UsageError(`cas ${command.name} changes several things at once: pass --yes to confirm without a terminal to ask on`);
    const conn = resolveConnection(globals, env);
    if (conn.insecure) {
      io.stderr.write('warning: --insecure: the server certificate is not checked; a man in the middle would get your password\n');
    }
    const file = sessionFile(env, conn.url, conn.user);
    const saved = loadSession(file);
    // Written longer ago than a session lives: ended for sure, and not sent (a refused resume is audited as a token tried).
    if (saved?.ended) removeSession(file);
    const live = saved !== null && !saved.ended ? saved : null;
    const client = await AdminClient.connect(conn.url, conn.insecure ? { insecure: true } : { fingerprint: conn.fingerprint! })
      .catch((err: unknown) => Promise.reject(refusedConnection(err, conn.url)));
    try {
      // A kept session (cas login) is resumed; otherwise this one command logs in and out again.
      const kept = command.op !== 'login' && live !== null ? await resume(client, live.token, file) : null;
      const resumed = kept !== null;
      if (command.op !== 'login' && command.op !== 'logout' && saved !== null && !resumed) {
        // Said before the password is asked for: without it, a script saw only "no password on stdin".
        io.stderr.write('note: the session kept by cas login has ended (logged out, 8 h idle, 12 h after the login, the account changed on the server, or a restored backup): run cas login again; this command logs in once\n');
      }
      if (command.op === 'logout') {
        if (resumed) await client.logout();
        removeSession(file);
        io.stdout.write(globals.json ? `${JSON.stringify({ loggedOut: true })}\n` : renderResult('session', {}));
        return EXIT_OK;
      }
      // A new `cas login` replaces the kept session: its token is ended on the server, not left alive and forgotten here.
      if (command.op === 'login' && live !== null && (await resume(client, live.token, file)) !== null) await client.logout();
      const session = resumed ? null : await login(client, conn.user, await readPassword(io, conn.user), globals.totp, io);
      if (command.op === 'login') {
        saveSession(file, { url: conn.url, user: conn.user, token: session!.token, expiresAt: session!.expiresAt });
        io.stdout.write(globals.json ? `${JSON.stringify({ user: session!.user, expiresAt: session!.expiresAt, has2fa: session!.has2fa, role: session!.role ?? 'operator' })}\n` : renderResult('session', session));
        return EXIT_OK;
      }
      // A viewer is not asked to confirm what the server refuses it anyway: the op goes as it is, to be refused (forbidden, audited).
      if (confirming && (kept ?? session)?.role !== 'viewer') {
        const asked = await command.confirm!.ask((op, opArgs) => client.request(op, opArgs), args ?? {});
        if ('nothing' in asked) {
          io.stdout.write(globals.json ? `${JSON.stringify(asked.nothing, null, 2)}\n` : renderResult(command.render, asked.nothing));
          if (!resumed) await client.logout().catch(() => undefined);
          return EXIT_OK;
        }
        // The 2FA prompt read the terminal's input to its end (cli-prompt.ts): no answer can come from it now.
        if (io.stdin.destroyed === true) throw new UsageError('the 2FA prompt took the terminal\'s input: run cas login first, then this command; or pass --yes');
        io.stderr.write(`${asked.question}Type YES to confirm: `);
        // Not confirmed is a usage outcome (exit 2), as without --yes where nobody can confirm (terminal factory-reset).
        if ((await readFirstLine(io.stdin))?.trim() !== 'YES') throw new UsageError('cancelled (only YES, in capitals, confirms); nothing was changed', command.name);
        args = asked.args;
      }
      if (command.op === 'subscribe') {
        await watch(client, args ?? {}, globals.json, io, options.stop);
      } else if (command.many) {
        const { result, ok } = await command.many((op, opArgs) => client.request(op, opArgs), args ?? {}, progressLine(io));
        io.stdout.write(globals.json ? `${JSON.stringify(result, null, 2)}\n` : renderResult(command.render, result));
        if (!ok) exitCode = EXIT_FAILED;
      } else if (command.toFile) {
        const show = progress(io);
        const result = await command.toFile((op, opArgs) => client.request(op, opArgs), args ?? {}, (p) => show(exportProgress(p), p.done));
        io.stdout.write(globals.json ? `${JSON.stringify(result, null, 2)}\n` : renderResult(command.render, result));
      } else {
        const { result: reply, cut } = command.pages ? await everyPage(client, command.op, command.pages, args ?? {}) : { result: await client.request(command.op, args), cut: null };
        // Results holding keys are written to files; only the summary of what was written is printed.
        const result = command.save ? command.save(reply, invocation.values) : reply;
        io.stdout.write(globals.json ? `${JSON.stringify(result, null, 2)}\n` : renderResult(command.render, result));
        if (!globals.json && cut !== null) io.stdout.write(`${cut}\n`);
      }
      if (!resumed) await client.logout().catch(() => undefined);
    } finally {
      await client.close();
    }
    return exitCode;
  } catch (err) {
    // With --json the error is also one JSON object on stdout, where a script reads answers, with what the server said
    // besides (retryAfter, attemptsLeft): a loop can tell already_exists from the rest. The line on stderr is for people.
    if (argv.includes('--json')) io.stdout.write(errorJson(err, err instanceof AppError ? err.details : undefined));
    io.stderr.write(errorText(err, 'cas'));
    return exitCodeOf(err);
  }
}

/**
 * How far a long command got, on stderr: rewritten in place on a terminal every 250 ms, a line every 5 s otherwise (a
 * log that someone tails). Its last line (`last`: every row answered, every page written) ends with a newline, so that
 * the summary on stdout starts a line of its own.
 */
function progress(io: CliIo): (line: string, last: boolean) => void {
  const tty = (io.stderr as { isTTY?: boolean }).isTTY === true;
  let shownAt = Date.now();
  return (line, last) => {
    const now = Date.now();
    if (now - shownAt < (tty ? 250 : 5_000) && !last) return;
    shownAt = now;
    io.stderr.write(tty ? `\r${line}${last ? '\n' : ''}` : `${line}\n`);
  };
}

/** An import's progress line: rows answered of the file's. */
function progressLine(io: CliIo): (summary: ImportSummary) => void {
  const show = progress(io);
  return (s) => show(importProgress(s), s.created + s.skipped + s.failed.length >= s.total);
}

/**
 * Asks for pages until the last one, or until `args.limit` items: the server answers at most 1,000 a page. A `counted`
 * listing answers its items with the counts the pages gave: `matching` from the first page (the one a server counts a
 * search's matches on), or, once every page is in, how many came.
 */
async function everyPage(client: AdminClient, op: string, pages: NonNullable<CommandSpec['pages']>, args: Record<string, unknown>): Promise<{ result: unknown; cut: string | null }> {
  const { limit, ...filters } = args;
  const wanted = typeof limit === 'number' ? limit : Infinity;
  const items: unknown[] = [];
  let cursor: unknown = null;
  let first: Record<string, unknown> | null = null;
  let last: Record<string, unknown> | null = null;
  do {
    const page = await client.request<Record<string, unknown>>(op, { ...filters, limit: Math.min(PAGE_SIZE, wanted - items.length), ...(typeof cursor === 'string' && { [pages.cursor]: cursor }) });
    const got = page[pages.items];
    if (!Array.isArray(got)) throw new AppError('internal_error', `${op} answered without ${pages.items}: a server older than this cas?`);
    items.push(...got);
    first ??= page;
    last = page;
    cursor = page.next;
  } while (typeof cursor === 'string' && items.length < wanted);
  const more = typeof cursor === 'string';
  const cut = more && pages.cutNote ? pages.cutNote(filters, items.length) : null;
  if (!pages.counted) return { result: items, cut };
  const count = (value: unknown): number | null => (typeof value === 'number' ? value : null);
  return { result: { [pages.items]: items, total: count(last?.total), matching: more ? count(first?.matching) : items.length, shown: items.length, more }, cut };
}

const PAGE_SIZE = 1000;

/** The kept session when it is still live (its role with it); an expired one is forgotten (null) so the caller logs in afresh. */
async function resume(client: AdminClient, token: string, file: string): Promise<SessionInfo | null> {
  try {
    return await client.resume(token);
  } catch (err) {
    if (err instanceof AppError && err.code === 'session_expired') {
      removeSession(file);
      return null;
    }
    throw err;
  }
}

/**
 * A refused connection names the URL cas used and where it came from: a server started with another --admin-port (or
 * not started) otherwise showed only `ECONNREFUSED`, and the URL was the default nobody had typed.
 */
function refusedConnection(err: unknown, url: string): unknown {
  if (!(err instanceof AppError) || err.code !== 'server_unreachable' || !err.message.endsWith('ECONNREFUSED')) return err;
  return new AppError('server_unreachable', `${err.message}: nothing listens there. Is the server running, and is that its admin port (serve --admin-port)? `
    + `cas tried ${url} (set it with --url or CAS_URL; default ${DEFAULT_ADMIN_URL})`);
}

async function login(client: AdminClient, user: string, password: string, totp: string | undefined, io: CliIo): Promise<SessionInfo> {
  try {
    return await client.login(user, password, totp);
  } catch (err) {
    if (!(err instanceof AppError) || err.code !== 'totp_required' || totp !== undefined) throw err;
    if (!isInteractive(io)) throw new AppError('totp_required', `${user} has 2FA: pass --totp CODE`);
    return client.login(user, password, await promptTotp(io));
  }
}

/** Subscribes and prints every push until stopped; a connection the server closes is an error. */
async function watch(client: AdminClient, args: Record<string, unknown>, json: boolean, io: CliIo, stop?: AbortSignal): Promise<void> {
  const controller = new AbortController();
  const onSignal = (): void => controller.abort();
  const signal = stop ?? controller.signal;
  if (stop === undefined) {
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
  }
  try {
    let ended: (() => void) | null = null;
    client.on('event', (push: AdminPush) => {
      // No more pushes will come: a watch that went on running would look like a quiet fleet.
      if (push.event === 'session.ended') ended?.();
      else io.stdout.write(json ? `${JSON.stringify(push)}\n` : renderPush(push));
    });
    // MUST subscribe after the listener is in place: a push may follow the reply at once.
    await client.request('subscribe', args);
    if (!json) io.stderr.write(`watching ${([] as unknown[]).concat(args.topics).join(', ')}; Ctrl-C to stop\n`);
    await new Promise<void>((resolve, reject) => {
      if (signal.aborted) return resolve();
      signal.addEventListener('abort', () => resolve(), { once: true });
      client.on('close', () => reject(new AppError('server_unreachable', 'the server closed the admin connection (it stopped or restarted?): no more events come; run cas watch again once it is back')));
      ended = () => reject(new AppError('session_expired', 'the session ended (cas logout; a new cas login of this user, which replaces the kept session; 8 h idle or 12 h after the login; the account changed on the server; 2FA confirmed in another session; or a restored backup), so no more events come: log in again (cas login)'));
    });
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}


if (isMainModule(import.meta.url)) {
  process.exitCode = await runCli(process.argv.slice(2));
}
