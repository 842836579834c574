/**
 * @module terminals.update against the real server: operators correct a terminal's name, location and contact, and the
 * correction never costs a pairing — it goes through the terminal's actor, which also writes the record when it pairs.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AdminClient } from '../../src/admin/admin-client.js';
import type { AuditEntry, PairingView, TerminalView } from '../../src/protocol/types.js';
import { addOperator, connectOperator, nextPush, pairRawTerminal } from '../helpers/operator.js';
import { RawTerminal } from '../helpers/raw-terminal.js';
import { startServerProcess, type ServerProcess } from '../helpers/server-process.js';

let server: ServerProcess;
let alice: AdminClient;
/** A second operator's connection, subscribed to `terminals`: pushes are for every operator, not only the one who acted. */
let watcher: AdminClient;

const update = (args: Record<string, unknown>) => alice.request('terminals.update', args) as Promise<TerminalView>;
const get = (serial: string) => alice.request('terminals.get', { serial }) as Promise<TerminalView>;
const ping = (terminal: RawTerminal) => terminal.send(server.masterUrl, '/api/v1/ping', { body: '{}' });

beforeAll(async () => {
  server = await startServerProcess();
  alice = await connectOperator(server, await addOperator(server.dataDir, 'alice'));
  watcher = await connectOperator(server, await addOperator(server.dataDir, 'bob'));
  await watcher.request('subscribe', { topics: ['terminals'] });
  await alice.request('gate.open', { minutes: 10 });
  await alice.request('terminals.create', { serial: 'UPD-001', name: 'Lobby', location: 'Main St 1', contact: '+1 555 0100' });
});

afterAll(async () => {
  await watcher?.close();
  await alice?.close();
  await server?.stop();
});

describe('terminals.update', () => {
  it('changes each field alone and leaves the others as they were', async () => {
    expect(await update({ serial: 'UPD-001', name: 'Back office' })).toMatchObject({ serial: 'UPD-001', name: 'Back office', location: 'Main St 1', contact: '+1 555 0100', state: 'expected' });
    expect(await update({ serial: 'UPD-001', location: 'Station Rd 2' })).toMatchObject({ name: 'Back office', location: 'Station Rd 2', contact: '+1 555 0100' });
    expect(await update({ serial: 'UPD-001', contact: '+1 555 0199' })).toMatchObject({ name: 'Back office', location: 'Station Rd 2', contact: '+1 555 0199' });
    expect(await get('UPD-001')).toMatchObject({ name: 'Back office', location: 'Station Rd 2', contact: '+1 555 0199', vpn: false, tfp: null });
  });

  it('needs 2FA to set the contact (approvers call it) or to unpair, not to change the name', async () => {
    const dora = await connectOperator(server, await addOperator(server.dataDir, 'dora', { with2fa: false }));
    try {
      expect(await dora.request('terminals.update', { serial: 'UPD-001', name: 'Lobby 2' })).toMatchObject({ name: 'Lobby 2' });
      await expect(dora.request('terminals.update', { serial: 'UPD-001', contact: '+1 555 6666' })).rejects.toMatchObject({ code: 'requires_2fa' });
      // Naming it at all, with the value stored too: that could undo another operator's change still on its way.
      await expect(dora.request('terminals.update', { serial: 'UPD-001', name: 'Back office', contact: '+1 555 0199' })).rejects.toMatchObject({ code: 'requires_2fa' });
      expect(await get('UPD-001')).toMatchObject({ name: 'Lobby 2', contact: '+1 555 0199' });
      expect(await dora.request('terminals.update', { serial: 'UPD-001', name: 'Back office' })).toMatchObject({ name: 'Back office' });
      // Nor at creation: a serial not created yet would otherwise get the number a password chose.
      await expect(dora.request('terminals.create', { serial: 'UPD-DORA-1', contact: '+1 555 6666' })).rejects.toMatchObject({ code: 'requires_2fa' });
      expect(await dora.request('terminals.create', { serial: 'UPD-DORA-1', name: 'Kiosk' })).toMatchObject({ serial: 'UPD-DORA-1', contact: '' });
      // The entries keep what it was created with (and what the refused try asked for), as an update's keep what changed.
      const created = await dora.request<Array<{ detail: Record<string, unknown> }>>('audit.list', { action: 'terminals.create', serial: 'UPD-DORA-1' });
      expect(created.map((e) => e.detail)).toEqual([
        expect.objectContaining({ name: 'Kiosk', result: 'ok' }),
        expect.objectContaining({ contact: '+1 555 6666', result: 'requires_2fa' }),
      ]);
      // Unpairing breaks trust until a site visit: a password alone must not do it to the whole fleet.
      await expect(dora.request('terminals.unpair', { serial: 'UPD-001' })).rejects.toMatchObject({ code: 'requires_2fa' });
    } finally {
      await dora.close();
    }
  });

  it('clears a field given as an empty string', async () => {
    expect(await update({ serial: 'UPD-001', location: '' })).toMatchObject({ location: '', name: 'Back office' });
    expect((await get('UPD-001')).location).toBe('');
  });

  it('refuses an unknown serial, no field, a field too long and a field of the wrong type', async () => {
    await expect(update({ serial: 'UPD-NOBODY', contact: '1' })).rejects.toMatchObject({ code: 'not_found' });
    await expect(update({ serial: 'UPD-001' })).rejects.toMatchObject({ code: 'invalid_field' });
    await expect(update({ serial: 'UPD-001', vpn: true })).rejects.toMatchObject({ code: 'invalid_field' });
    await expect(update({ serial: 'UPD-001', name: 'n'.repeat(129) })).rejects.toMatchObject({ code: 'invalid_field' });
    await expect(update({ serial: 'UPD-001', location: 'l'.repeat(257) })).rejects.toMatchObject({ code: 'invalid_field' });
    await expect(update({ serial: 'UPD-001', contact: 'c'.repeat(129) })).rejects.toMatchObject({ code: 'invalid_field' });
    await expect(update({ serial: 'UPD-001', contact: 5 })).rejects.toMatchObject({ code: 'invalid_field' });
    await expect(update({ serial: '-bad serial', contact: '1' })).rejects.toMatchObject({ code: 'invalid_field' });
    // One line of text: a newline, an escape sequence or a bidirectional override would forge what tables and logs show.
    // Nor format characters, which reorder or hide text: two right-to-left marks made "+44 20 7946 0958" show as
    // "+44 200958 7946" on the page. Emoji (with their joiners) and other scripts are text.
    for (const name of ['Lobby\nUPD-002  paired', 'Lobby\u001b[31m', 'Lobby \u202eevil', '+44 20\u200f 7946\u200f 0958', 'a\u200bb', '\ufeffLobby', 'x\ud800y']) {
      await expect(update({ serial: 'UPD-001', name })).rejects.toMatchObject({ code: 'invalid_field', message: 'name: one line of visible text, without control or format characters' });
    }
    expect(await update({ serial: 'UPD-001', name: 'Kiosk 👨‍👩‍👧 東京 مرحبا' })).toMatchObject({ name: 'Kiosk 👨‍👩‍👧 東京 مرحبا' });
    await expect(alice.request('terminals.create', { serial: 'UPD-CTRL', contact: '+1\r555' })).rejects.toMatchObject({ code: 'invalid_field' });
    // The longest values allowed pass, and nothing refused was written.
    expect(await update({ serial: 'UPD-001', name: 'n'.repeat(128), location: 'l'.repeat(256), contact: 'c'.repeat(128) })).toMatchObject({ name: 'n'.repeat(128) });
    await update({ serial: 'UPD-001', name: 'Back office', location: 'Station Rd 2', contact: '+1 555 0199' });
  });

  it('refuses, with conflict, a change to a field another operator changed since the editor read it', async () => {
    const before = await alice.request<TerminalView>('terminals.get', { serial: 'UPD-001' });
    await watcher.request('terminals.update', { serial: 'UPD-001', contact: '+1 555 0777' });
    // The page sends what its form started from; the other operator's number is not overwritten.
    await expect(update({ serial: 'UPD-001', contact: '+1 555 0888', seen: { contact: before.contact } })).rejects.toMatchObject({
      code: 'conflict', message: expect.stringContaining('contact of UPD-001 changed meanwhile (now "+1 555 0777")'),
    });
    expect((await alice.request<TerminalView>('terminals.get', { serial: 'UPD-001' })).contact).toBe('+1 555 0777');
    // Against what is stored now, the change goes through; a field nobody else touched needs no match.
    expect(await update({ serial: 'UPD-001', contact: '+1 555 0888', seen: { contact: '+1 555 0777' } })).toMatchObject({ contact: '+1 555 0888' });
    await update({ serial: 'UPD-001', contact: before.contact });
  });

  it('refuses the second of two edits sent together from the same values, with conflict, whichever lands first', async () => {
    const before = await get('UPD-001');
    // Both pass the check as they arrive (the record is as both saw it); the terminal's actor writes one, then finds the
    // other's values moved.
    const outcomes = await Promise.allSettled([
      update({ serial: 'UPD-001', contact: '+1 555 0301', seen: { contact: before.contact } }),
      watcher.request<TerminalView>('terminals.update', { serial: 'UPD-001', contact: '+1 555 0302', seen: { contact: before.contact } }),
    ]);
    const saved = outcomes.flatMap((o) => (o.status === 'fulfilled' ? [o.value.contact] : []));
    const refused = outcomes.flatMap((o) => (o.status === 'rejected' ? [o.reason as { code: string; message: string }] : []));
    expect(saved).toHaveLength(1);
    expect(refused).toEqual([expect.objectContaining({ code: 'conflict', message: expect.stringContaining(`contact of UPD-001 changed meanwhile (now "${saved[0]}")`) })]);
    expect((await get('UPD-001')).contact).toBe(saved[0]);
    await update({ serial: 'UPD-001', contact: before.contact });
  });

  it('creates no second terminal whose serial differs only in case', async () => {
    await expect(alice.request('terminals.create', { serial: 'upd-001' })).rejects.toMatchObject({
      code: 'already_exists', message: expect.stringContaining('terminal UPD-001 already exists, and serials that differ only in case'),
    });
    await expect(alice.request('terminals.create', { serial: 'UPD-001' })).rejects.toMatchObject({ code: 'already_exists', message: 'a terminal with serial UPD-001 already exists' });
    const serials = (await alice.request<{ terminals: TerminalView[] }>('terminals.list')).terminals.map((t) => t.serial);
    expect(serials.filter((s) => s.toUpperCase() === 'UPD-001')).toEqual(['UPD-001']);
  });

  it('refuses a connection that has not logged in', async () => {
    const stranger = await AdminClient.connect(server.adminUrl, { fingerprint: server.sfp });
    try {
      await expect(stranger.request('terminals.update', { serial: 'UPD-001', contact: '+1 555 6666' })).rejects.toMatchObject({ code: 'not_logged_in' });
    } finally {
      await stranger.close();
    }
    expect((await get('UPD-001')).contact).toBe('+1 555 0199');
  });

  it('audits who changed which fields of which terminal, from what to what, refusals included', async () => {
    const before = await alice.request<TerminalView>('terminals.get', { serial: 'UPD-001' });
    await update({ serial: 'UPD-001', name: 'Lobby', contact: '+1 555 0123' });
    await update({ serial: 'UPD-NOBODY', contact: '1' }).catch(() => undefined);
    const entries = (await alice.request('audit.list', { limit: 10 })) as AuditEntry[];
    const [refused, done] = entries.filter((e) => e.action === 'terminals.update');
    expect(refused).toMatchObject({ user: 'alice', target: 'UPD-NOBODY', detail: { result: 'not_found', fields: ['contact'], changes: { contact: { from: null, to: '1' } } } });
    // The contact is the number codes are read out on: a swapped one leaves a trace, as a swapped deposit address does.
    expect(done).toMatchObject({
      user: 'alice', target: 'UPD-001',
      detail: { result: 'ok', fields: ['name', 'contact'], changes: { name: { from: before.name, to: 'Lobby' }, contact: { from: before.contact, to: '+1 555 0123' } } },
    });
  });

  it('audits each of two edits sent together from the value its own write replaced', async () => {
    const before = await get('UPD-001');
    // No `seen` (as cas sends them): both go through, one after the other, in the terminal's actor.
    const [mine, theirs] = ['+1 555 0401', '+1 555 0402'];
    await Promise.all([update({ serial: 'UPD-001', contact: mine }), watcher.request('terminals.update', { serial: 'UPD-001', contact: theirs })]);
    const last = (await get('UPD-001')).contact;
    const first = last === mine ? theirs : mine;
    const entries = (await alice.request('audit.list', { limit: 10 })) as AuditEntry[];
    const changes = entries.filter((e) => e.action === 'terminals.update').slice(0, 2).map((e) => (e.detail?.changes as Record<string, unknown>).contact);
    // Read as each op arrived, both named the contact before either: the second's trace hid the first's number.
    expect(changes).toEqual([{ from: first, to: last }, { from: before.contact, to: first }]);
    // The answer says it too.
    expect(await update({ serial: 'UPD-001', contact: before.contact })).toMatchObject({ contact: before.contact, previous: { contact: last } });
  });

  it('pushes terminal.updated with the terminal, the operator and the fields that changed', async () => {
    const push = nextPush(watcher, (p) => p.event === 'terminal.updated' && (p.data.terminal as TerminalView).serial === 'UPD-001');
    await update({ serial: 'UPD-001', name: 'Lobby', location: 'Station Rd 3' });
    const { data } = await push;
    // name was already Lobby: only location changed.
    expect(data).toEqual({ terminal: expect.objectContaining({ serial: 'UPD-001', name: 'Lobby', location: 'Station Rd 3', contact: '+1 555 0123' }), user: 'alice', changed: ['location'] });
  });
});

describe('terminals.update and pairing, which write the same record', () => {
  it("keeps a paired terminal's pin: same TFP, and its signed master calls still work", async () => {
    const terminal = RawTerminal.create('UPD-PAIRED', 'ec');
    await pairRawTerminal(alice, server, terminal);
    expect((await ping(terminal)).status).toBe(200);
    const updated = await update({ serial: terminal.serial, contact: '+1 555 0142' });
    expect(updated).toMatchObject({ state: 'paired', tfp: terminal.tfp, contact: '+1 555 0142' });
    expect(await get(terminal.serial)).toMatchObject({ state: 'paired', tfp: terminal.tfp, contact: '+1 555 0142' });
    expect((await ping(terminal)).status).toBe(200);
    // And unpairing afterwards keeps the corrected contact.
    expect(await alice.request('terminals.unpair', { serial: terminal.serial })).toMatchObject({ state: 'expected', contact: '+1 555 0142' });
    expect((await ping(terminal)).status).toBe(403);
  });

  it('keeps both a pending pairing and the new contact when the request is approved after the update', async () => {
    const terminal = RawTerminal.create('UPD-PENDING', 'ec');
    await alice.request('terminals.create', { serial: terminal.serial, contact: '+1 555 0000' });
    const { requestId, code } = await terminal.requestPairing(server.gateUrl, server.sfp);
    expect(await update({ serial: terminal.serial, contact: '+1 555 0777' })).toMatchObject({ state: 'pending', contact: '+1 555 0777' });
    const approved = (await alice.request('pairing.approve', { requestId, code })) as PairingView;
    expect(approved.state).toBe('approved');
    expect(await get(terminal.serial)).toMatchObject({ state: 'paired', tfp: terminal.tfp, contact: '+1 555 0777' });
    expect((await ping(terminal)).status).toBe(200);
  });

  it('loses neither when an update and an approval arrive at the same time', async () => {
    const terminals = ['UPD-RACE-1', 'UPD-RACE-2', 'UPD-RACE-3'].map((serial) => RawTerminal.create(serial, 'ec'));
    await Promise.all(terminals.map(async (terminal, i) => {
      await alice.request('terminals.create', { serial: terminal.serial, contact: 'old' });
      const { requestId, code } = await terminal.requestPairing(server.gateUrl, server.sfp);
      // Two connections, so neither waits for the other's answer: the server orders them.
      const [, updated] = await Promise.all([
        alice.request('pairing.approve', { requestId, code }),
        watcher.request('terminals.update', { serial: terminal.serial, contact: `new ${i}` }),
      ]);
      expect((updated as TerminalView).contact).toBe(`new ${i}`);
    }));
    for (const [i, terminal] of terminals.entries()) {
      expect(await get(terminal.serial)).toMatchObject({ state: 'paired', tfp: terminal.tfp, contact: `new ${i}` });
      expect((await ping(terminal)).status).toBe(200);
    }
  });
});
