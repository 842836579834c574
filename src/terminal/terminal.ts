/** @module The terminal library: identity (init, factory reset, restore point), server pinning, commit–reveal pairing with the gate, signed master calls, and the VPN configuration it was given. */
import { X509Certificate, randomUUID } from 'node:crypto';
import { AppError } from '../errors.js';
import { createSelfSignedCertificate, defaultAlgorithm, generateKeyPair, MAX_RSA_BITS, MIN_RSA_BITS } from '../crypto/certificates.js';
import { fingerprint, formatFingerprint, normalizeFingerprint } from '../crypto/fingerprint.js';
import { cashEventSchema, check, SERIAL_PATTERN } from '../protocol/schemas.js';
import type { CashEventReply, DepositAddressReply, KeyKind, PairingStage, SignatureAlgorithm } from '../protocol/types.js';
import { explainClosedGate, gatePairing, isGateAnswer, notAPairingGate, type PairOptions, type PairResult } from './gate-pairing.js';
import { hasTrustToLose, pairWithNewGate } from './gate-switch.js';
import { cashEventReply, depositAddressReply, pingReply, replyOf } from './master-replies.js';
import { parseServerUrl, type PinnedReply } from './pinned-https.js';
import { openRestorePoint, sealRestorePoint } from './restore-point.js';
import { isSuccess, replyError, signedCall, type TerminalIdentity } from './signed-call.js';
import { emptyServer, StateDir, type StoredState } from './state-dir.js';
import { acquireStateLock, withStateLock } from './state-lock.js';
import { profileWithKey, storedVpnConfig, type TerminalVpnConfig } from './vpn-config.js';

export interface InitOptions {
  serial: string;
  key: KeyKind;
  rsaBits?: number;
}

export interface InitResult {
  serial: string;
  tfp: string;
  keyKind: KeyKind;
  alg: SignatureAlgorithm;
}

export interface TerminalStatus extends InitResult {
  gateUrl: string | null;
  masterUrl: string | null;
  pinnedSfp: string | null;
  /** From the last server answer: the terminal cannot know offline whether the operator has unpaired it since. */
  paired: boolean;
  /** When a server answer last confirmed `paired`; null when never recorded. */
  pairedConfirmedAt: string | null;
  /** A gate that `set-server` named; the next `pair` switches to it once that gate answers. */
  nextGateUrl: string | null;
  /** The SFP `set-server --expect-sfp` gave for that gate; null: the gate must present the pinned SFP. */
  nextGateSfp: string | null;
  /** The next certificate the pinned server announced: accepted in place of the pinned SFP, which it then becomes. */
  announcedSfp: string | null;
  /** The pairing in progress, without its secret nonce. */
  pairing: { requestId: string; stage: PairingStage; code: string; expiresAt: string | null } | null;
}

export type { PairOptions, PairResult } from './gate-pairing.js';

export type { TerminalVpnConfig } from './vpn-config.js';

/** What the library tells the person at the terminal besides its results (the CLI writes them on stderr). */
export interface TerminalOptions {
  onNote?: (text: string) => void;
}

export interface CashEventInput {
  currency: string;
  denomination: number;
  count: number;
  eventId?: string;
  at?: string;
}

const PAIRING_PATH = '/api/v1/pairing';
const PAIR_HINT = 'run `terminal pair --gate https://SERVER:7741` and have the operator approve it';
/** With the gate it knows: `--gate URL` with another URL starts a switch of servers, which is not what the hint means. */
const pairHint = (gateUrl: string | null): string => (gateUrl === null ? PAIR_HINT : 'run `terminal pair` and have the operator approve it');
/** A successful master call re-confirms `paired`; rewriting state.json (two fsyncs) on every call would wear a terminal's flash for little. */
const CONFIRMATION_REFRESH_MS = 60_000;

type GateBody = Record<string, unknown>;

/** An SFP the person at the terminal typed (`--expect-sfp`): 64 hex digits, colons allowed, any case; canonical lowercase hex. */
function expectedSfp(text: string): string {
  const sfp = normalizeFingerprint(text);
  if (sfp === null) throw new AppError('invalid_field', 'expect-sfp: a SHA-256 fingerprint, 64 hex digits (colons allowed), as `pairing-server fingerprint` prints it');
  return sfp;
}

export class Terminal {
  private readonly dir: StateDir;
  private state: StoredState;
  private cachedIdentity: TerminalIdentity | null = null;
  private readonly note: (text: string) => void;

  private constructor(dir: StateDir, state: StoredState, opts: TerminalOptions = {}) {
    this.dir = dir;
    this.state = state;
    this.note = opts.onNote ?? (() => undefined);
  }

  /** First start: a fresh key pair and a self-signed certificate whose CN is the serial. */
  static async init(dir: string, opts: InitOptions): Promise<InitResult> {
    if (typeof opts.serial !== 'string' || !SERIAL_PATTERN.test(opts.serial)) {
      throw new AppError('invalid_field', 'serial: 1-64 characters of A-Z a-z 0-9 . _ - starting with a letter or digit');
    }
    if (!['rsa', 'ec', 'ed25519'].includes(opts.key)) throw new AppError('invalid_field', 'key must be rsa, ec or ed25519');
    const rsaBits = opts.rsaBits ?? 2048;
    if (opts.key === 'rsa' && (!Number.isInteger(rsaBits) || rsaBits < MIN_RSA_BITS || rsaBits > MAX_RSA_BITS || rsaBits % 8 !== 0)) {
      throw new AppError('invalid_field', `rsa bits must be a multiple of 8 from ${MIN_RSA_BITS} to ${MAX_RSA_BITS}`);
    }
    // MUST hold the lock from the check to the last write: two inits at once would mix two identities' files.
    return withStateLock(dir, 'init', () => Terminal.createIdentity(new StateDir(dir), opts, rsaBits), { create: true });
  }

  private static createIdentity(stateDir: StateDir, opts: InitOptions, rsaBits: number): InitResult {
    if (stateDir.exists()) {
      const existing = stateDir.read();
      throw new AppError('conflict', `${stateDir.path} already holds terminal ${existing.serial} (TFP ${existing.tfp}); factory-reset it first`);
    }
    const { privateKeyPem } = generateKeyPair(opts.key, rsaBits);
    const { certPem, der } = createSelfSignedCertificate({ privateKeyPem, commonName: opts.serial });
    const state: StoredState = {
      version: 1,
      serial: opts.serial,
      keyKind: opts.key,
      alg: defaultAlgorithm(opts.key),
      tfp: fingerprint(der),
      createdAt: new Date().toISOString(),
      server: emptyServer(),
      pairing: null,
      paired: false,
    };
    stateDir.writeIdentity(privateKeyPem, certPem);
    stateDir.save(state); // MUST be last: state.json marks a complete identity
    return { serial: state.serial, tfp: state.tfp, keyKind: state.keyKind, alg: state.alg };
  }

  static open(dir: string, opts: TerminalOptions = {}): Terminal {
    const stateDir = new StateDir(dir);
    return new Terminal(stateDir, stateDir.read(), opts);
  }

  /** Deletes key, certificate and state: the identity is gone for good (next init → new key → new TFP), and so is the pin. */
  static factoryReset(dir: string): void {
    const release = acquireStateLock(dir, 'factory-reset');
    try {
      new StateDir(dir).wipe();
    } finally {
      release();
    }
  }

  /** Writes a restore point's identity into `dir`; refuses to replace an initialized terminal unless `force`. */
  static async restore(dir: string, sealed: Buffer, passphrase: string, opts: { force?: boolean } = {}): Promise<Terminal> {
    const point = await openRestorePoint(sealed, passphrase);
    const stateDir = new StateDir(dir);
    return withStateLock(
      dir,
      'restore',
      () => {
        if (stateDir.exists() && opts.force !== true) {
          const existing = stateDir.read();
          throw new AppError('conflict', `${dir} already holds terminal ${existing.serial}; pass --force to replace it`);
        }
        // MUST drop state.json first: a crash between files then leaves "not initialized", never a state naming another key.
        stateDir.wipe();
        stateDir.writeIdentity(point.privateKeyPem, point.certPem);
        stateDir.save(point.state);
        return new Terminal(stateDir, point.state);
      },
      { create: true },
    );
  }

  status(): TerminalStatus {
    const { serial, tfp, keyKind, alg, server, paired, pairing } = this.state;
    return {
      serial,
      tfp,
      keyKind,
      alg,
      gateUrl: server.gateUrl,
      masterUrl: server.masterUrl,
      pinnedSfp: server.sfp,
      paired,
      pairedConfirmedAt: this.state.pairedConfirmedAt ?? null,
      nextGateUrl: server.nextGateUrl ?? null,
      nextGateSfp: server.nextGateSfp ?? null,
      announcedSfp: server.announcedSfp ?? null,
      pairing: pairing && { requestId: pairing.requestId, stage: pairing.stage, code: pairing.code, expiresAt: pairing.expiresAt },
    };
  }

  factoryReset(): void {
    Terminal.factoryReset(this.dir.path);
  }

  /** A restore point: key, certificate and state sealed with `passphrase`. */
  backup(passphrase: string): Promise<Buffer> {
    return sealRestorePoint({ privateKeyPem: this.dir.privateKeyPem(), certPem: this.dir.certificatePem(), state: this.state }, passphrase);
  }

  /**
   * Changing the server address forgets the pin, the master URL, the pairing and the paired flag (the seed's "unpinning"),
   * but only once the new gate has answered (see `pair`): a terminal with something to lose keeps its old server
   * until then, so a mistyped address cannot un-pair it. `switched` says whether the change took effect at once.
   * The new gate must present the pinned SFP, or `expectSfp` (its operator's fingerprint, confirmed out of band).
   */
  setServer(gateUrl: string, opts: { expectSfp?: string } = {}): { switched: boolean } {
    const origin = parseServerUrl(gateUrl).origin;
    const expected = opts.expectSfp === undefined ? null : expectedSfp(opts.expectSfp);
    const switched = !hasTrustToLose(this.state);
    if (switched) {
      this.resetServer(origin, expected);
    } else {
      this.state.server.nextGateUrl = origin;
      this.state.server.nextGateSfp = expected;
    }
    this.save();
    return { switched };
  }

  /**
   * Pairing with the gate (PROTOCOL.md "Pairing (gate)"): commit, reveal, then wait for the operator.
   * A pairing already in progress is resumed by polling, so `pair` twice without `wait` first shows the
   * code and then reports the outcome.
   *
   * Another gate, or `opts.expectSfp` other than the pinned SFP, is a switch (gate-switch.ts): a terminal with a pin
   * accepts a gate that presents another SFP only when `expectSfp` names exactly that SFP.
   */
  async pair(gateUrl?: string, opts: PairOptions = {}): Promise<PairResult> {
    const server = this.state.server;
    let target = server.nextGateUrl ?? null;
    let expected = target === null ? null : (server.nextGateSfp ?? null);
    if (gateUrl !== undefined) {
      const origin = parseServerUrl(gateUrl).origin;
      if (origin !== server.gateUrl || target === origin) {
        if (target !== origin) expected = null; // an SFP set-server gave belongs to the gate it named
        target = origin;
      } else if (target !== null) {
        target = null; // naming the current gate again cancels a switch `set-server` left pending
        expected = null;
        server.nextGateUrl = null;
        server.nextGateSfp = null;
        this.save();
      }
    }
    if (opts.expectSfp !== undefined) {
      expected = expectedSfp(opts.expectSfp);
      // The server at the same address changed its certificate: re-pinning is a switch to the same gate.
      if (target === null && server.gateUrl !== null && expected !== server.sfp) target = server.gateUrl;
    }
    if (target !== null && !hasTrustToLose(this.state)) {
      this.resetServer(target, expected); // nothing to lose: remember the new gate even if it cannot be reached now
      this.save();
      target = null;
    }
    if (target !== null) {
      const host = {
        current: () => this.state,
        adopt: (candidate: StoredState) => {
          this.state = candidate;
          this.save();
        },
        save: () => this.save(),
        gate: (state: StoredState, body: GateBody) => this.gate(state, body, opts),
      };
      return pairWithNewGate(host, target, expected, opts);
    }
    if (this.state.server.gateUrl === null) throw new AppError('invalid_field', `no gate URL yet: ${PAIR_HINT}`);
    const state = this.state;
    return gatePairing({ state, save: () => this.save(), gate: (body) => this.gate(state, body, opts) }, opts);
  }

  /** The VPN configuration from the last trusted gate answer; `not_found` when the server gave none. */
  vpnConfig(): TerminalVpnConfig {
    return storedVpnConfig(this.state, PAIR_HINT);
  }

  /** The complete OpenVPN profile: the server's part plus this terminal's own private key, which only this machine has. */
  vpnProfileWithKey(): string {
    return profileWithKey(this.vpnConfig().profile, this.dir.privateKeyPem());
  }

  /** Heartbeat on master: `{ serverTime }`. */
  async ping(): Promise<{ serverTime: string }> {
    return replyOf(pingReply, await this.master('POST', '/api/v1/ping', {}, undefined), 'ping');
  }

  /** Banknotes inserted; idempotent by `eventId` (random by default), so retrying a lost answer is safe. */
  async cashEvent(input: CashEventInput): Promise<{ eventId: string; accepted: boolean; duplicate: boolean }> {
    const event = check(cashEventSchema, {
      eventId: input.eventId ?? randomUUID(),
      currency: input.currency,
      denomination: input.denomination,
      count: input.count,
      at: input.at ?? new Date().toISOString(),
    });
    let reply: CashEventReply;
    let answered = false;
    try {
      const answer = await this.master('POST', '/api/v1/cash-events', event, undefined);
      answered = true;
      reply = replyOf(cashEventReply, answer, 'cash-events');
    } catch (err) {
      // No answer, an answer that is not one, or the server could not take it now: the event may or may not be recorded.
      // Sent again with the same id it is recorded once (a duplicate is told as such), so the id must reach whoever retries.
      if (!(err instanceof AppError) || (!answered && err.code !== 'server_unreachable' && err.status < 500)) throw err;
      throw new AppError(err.code, `${err.message}; cash event ${event.eventId} is not confirmed: send it again with --event-id ${event.eventId} (recorded once whatever happened)`,
        { ...err.details, eventId: event.eventId }, { cause: err });
    }
    return { eventId: event.eventId, accepted: reply.accepted, duplicate: reply.duplicate };
  }

  /** The operator's deposit address for `coin`, as master hands it out. */
  async depositAddress(coin: string): Promise<DepositAddressReply> {
    if (typeof coin !== 'string' || !/^[A-Za-z0-9]{2,10}$/.test(coin)) throw new AppError('invalid_field', 'coin: a ticker such as BTC');
    const reply = replyOf(depositAddressReply, await this.master('GET', '/api/v1/deposit-address', undefined, { coin }), 'deposit-address');
    // Another coin's address, shown for this one, is customers' money sent where it cannot arrive.
    if (reply.coin.toUpperCase() !== coin.toUpperCase()) throw new AppError('bad_request', `master answered the deposit address of ${reply.coin.slice(0, 10)} when asked for ${coin}; nothing was taken from it`);
    return reply;
  }

  /** One signed gate call for `state` (the stored state, or the candidate of a gate switch, which is saved only once it is adopted). */
  private async gate(state: StoredState, body: GateBody, opts: PairOptions): Promise<PinnedReply> {
    const pin = state.server.sfp;
    let reply: PinnedReply;
    try {
      reply = await signedCall(this.identity(), {
        baseUrl: state.server.gateUrl!,
        method: 'POST',
        path: PAIRING_PATH,
        body,
        pin,
        nextPin: state.server.announcedSfp,
        withCertificate: true,
        timeoutMs: opts.requestTimeoutMs,
      });
    } catch (err) {
      throw explainClosedGate(err);
    }
    if (pin !== null && this.followServer(state, reply) && state === this.state) this.save();
    if (state.server.sfp === null) {
      // A finished TLS handshake is not enough: a mistyped port may reach any HTTPS server, whose pin would then refuse the real gate.
      if (!isGateAnswer(reply)) throw notAPairingGate(state.server.gateUrl!, reply);
      state.server.sfp = reply.sfp; // the first gate contact pins the server (trust on first use, checked by the code)
      state.server.sfpVouched = false;
      if (state === this.state) this.save();
    }
    return reply;
  }

  private async master(method: 'GET' | 'POST', path: string, body: unknown, query: Record<string, string> | undefined): Promise<unknown> {
    const { masterUrl, sfp } = this.state.server;
    // Master never pins: without a gate-pinned SFP there is nothing to trust.
    if (!this.state.paired || masterUrl === null || sfp === null) {
      // A request the operator may have approved meanwhile: only the gate tells, at the next `pair`.
      const pending = this.state.pairing;
      const waiting = pending !== null
        ? `this terminal is not paired yet: its pairing request${pending.stage === 'approval' ? ` (code ${pending.code})` : ''} is under way; run \`terminal pair\`, which goes on with it and says whether the operator approved it`
        : `this terminal is not paired; ${pairHint(this.state.server.gateUrl)}`;
      throw new AppError('not_paired', waiting);
    }
    const reply = await signedCall(this.identity(), { baseUrl: masterUrl, method, path, query, body, pin: sfp, nextPin: this.state.server.announcedSfp, withCertificate: false });
    if (this.followServer(this.state, reply)) this.save();
    if (isSuccess(reply)) {
      this.confirmPaired();
      return reply.json;
    }
    const err = replyError(reply);
    if (err.code === 'not_paired') {
      this.state.paired = false; // the operator unpaired us; pairing again starts at the gate
      this.save();
      throw new AppError('not_paired', `the server no longer trusts this terminal (an operator unpaired it); ${pairHint(this.state.server.gateUrl)}`, err.details);
    }
    // Master says no more than this (PROTOCOL.md): the two causes a person at the terminal can act on.
    if (err.code === 'unauthenticated') {
      throw new AppError('unauthenticated', `${err.message}: check this terminal's clock (the server accepts ±300 s by default); if it is right, the server no longer holds this terminal's key (unpaired and deleted, or restored from an older backup): ask the operator to look at cas terminals get ${this.state.serial}, then ${pairHint(this.state.server.gateUrl)}`, err.details);
    }
    throw err;
  }

  /**
   * What an answer over a pinned connection says of the server's certificate (PROTOCOL.md, "Certificate rollover"): a
   * server that presented the announced SFP has switched to it, and it becomes the pin; an announced SFP is remembered;
   * a success without one means the server withdrew it. Returns whether `state` changed. MUST be given only answers
   * whose connection presented the pin or the announced SFP (pinned-https.ts checks that before reading the answer):
   * never the first contact's, which had no pin to check.
   */
  private followServer(state: StoredState, reply: PinnedReply): boolean {
    const server = state.server;
    const before = { sfp: server.sfp, announcedSfp: server.announcedSfp ?? null };
    if (reply.sfp !== server.sfp && reply.sfp === server.announcedSfp) {
      // Vouched as the pin was: the server that held the old pin announced this one.
      server.sfp = reply.sfp;
      server.announcedSfp = null;
      this.note(`the server switched to the certificate it announced: this terminal is now pinned to SFP ${formatFingerprint(reply.sfp)}`);
    }
    const announced = reply.nextSfp;
    if (announced.kind === 'sfp') {
      server.announcedSfp = announced.sfp === server.sfp ? null : announced.sfp;
    } else if (announced.kind === 'malformed') {
      this.note(`ignored the server's announcement of its next certificate: Pairing-Next-SFP ${JSON.stringify(announced.value.slice(0, 80))} is not a SHA-256 fingerprint (64 hex digits)`);
    } else if (isSuccess(reply)) {
      server.announcedSfp = null;
    }
    return server.sfp !== before.sfp || (server.announcedSfp ?? null) !== before.announcedSfp;
  }

  private identity(): TerminalIdentity {
    if (this.cachedIdentity === null) {
      this.cachedIdentity = {
        serial: this.state.serial,
        tfp: this.state.tfp,
        alg: this.state.alg,
        privateKeyPem: this.dir.privateKeyPem(),
        certDer: new X509Certificate(this.dir.certificatePem()).raw,
      };
    }
    return this.cachedIdentity;
  }

  /** Master answered a signed call: the pairing still holds as of now. */
  private confirmPaired(): void {
    const last = Date.parse(this.state.pairedConfirmedAt ?? '');
    if (Number.isFinite(last) && Date.now() - last < CONFIRMATION_REFRESH_MS) return;
    this.state.pairedConfirmedAt = new Date().toISOString();
    this.save();
  }

  /** `sfp`: pinned ahead of the first contact (`--expect-sfp`); null leaves that contact to pin what it sees. */
  private resetServer(gateUrl: string, sfp: string | null = null): void {
    this.state.server = { ...emptyServer(), gateUrl, sfp, sfpVouched: sfp !== null };
    this.state.paired = false;
    this.state.pairedConfirmedAt = null;
    this.state.pairing = null;
  }

  private save(): void {
    this.dir.save(this.state);
  }
}
