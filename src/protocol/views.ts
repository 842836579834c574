/** @module Turns stored records into the camelCase views of the admin channel (PROTOCOL.md "Result fields"). */
import { effectiveState, type AuditRecord, type CashEventRecord, type DepositRecord, type PairingRecord, type TerminalRecord, type UnknownSerialRecord } from '../store/records.js';
import type { AuditEntry, CashEventView, DepositAddressView, PairingView, TerminalState, TerminalView, UnknownSerialView } from './types.js';

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

export function terminalView(record: TerminalRecord, hasPendingRequest: boolean, lastSeenAt: number | null): TerminalView {
  const state: TerminalState = record.tfp ? 'paired' : hasPendingRequest ? 'pending' : 'expected';
  return {
    serial: record.serial,
    name: record.name,
    location: record.location,
    contact: record.contact,
    vpn: record.vpn,
    state,
    tfp: record.tfp,
    lastSeenAt: iso(lastSeenAt),
    createdAt: new Date(record.createdAt).toISOString(),
    pairedAt: iso(record.pairedAt),
  };
}

export function pairingView(record: PairingRecord, now: number, pairedTfp: string | null, otherKeysWaiting = 0): PairingView {
  return {
    requestId: record.requestId,
    serial: record.serial,
    tfp: record.tfp,
    remoteAddress: record.remoteAddress,
    requestedAt: new Date(record.requestedAt).toISOString(),
    expiresAt: new Date(record.expiresAt).toISOString(),
    state: effectiveState(record, now),
    stage: record.stage,
    code: record.code,
    info: record.info,
    conflictsWithPaired: pairedTfp !== null && pairedTfp !== record.tfp,
    otherKeysWaiting,
    decidedBy: record.decidedBy,
    decidedAt: iso(record.decidedAt),
  };
}

export function auditView(record: AuditRecord): AuditEntry {
  return { seq: record.seq, at: new Date(record.at).toISOString(), user: record.user, action: record.action, target: record.target, ...(record.detail ? { detail: record.detail } : {}), hash: record.hash };
}

export function unknownSerialView(record: UnknownSerialRecord): UnknownSerialView {
  return { serial: record.serial, tfp: record.tfp, remoteAddress: record.remoteAddress, lastAttemptAt: new Date(record.lastAttemptAt).toISOString(), attempts: record.attempts };
}

export function depositView(record: DepositRecord): DepositAddressView {
  return { coin: record.coin, address: record.address, updatedAt: new Date(record.updatedAt).toISOString(), updatedBy: record.updatedBy };
}

export function cashEventView(record: CashEventRecord): CashEventView {
  const { serial, eventId, currency, denomination, count, at } = record;
  return { serial, eventId, currency, denomination, count, at, receivedAt: new Date(record.receivedAt).toISOString() };
}
