/** @module What every terminal actor of a thread shares: the store, the write-behind, the event sink, the VPN service and the settings it needs. */
import type { Logger } from '../logger.js';
import type { AdminTopic } from '../protocol/types.js';
import type { Store } from '../store/store.js';
import type { VpnService } from '../vpn/vpn-service.js';
import type { WriteBehind } from './write-behind.js';

/** What actors ask of the VPN service (which runs on the main thread; actors reach it by message). */
export type ActorVpn = Pick<VpnService, 'issue' | 'gateConfig'> & {
  /** VpnService.publishCrl, after the actor's own transaction revoked certificates. */
  publishCrl(): Promise<void>;
};

/** Pushes a domain event to operators subscribed to `topic`. */
export type EventSink = (topic: AdminTopic, event: string, data: Record<string, unknown>) => void;

export interface ActorContext {
  readonly store: Store;
  readonly events: EventSink;
  /**
   * A new cash event of `serial` is durable. Counted, not pushed: operators hear of them coalesced (net/cash-tally.ts),
   * as a fleet records thousands a second.
   */
  cashRecorded(serial: string): void;
  readonly log: Logger;
  /** This server's certificate fingerprint: the pairing code binds it. */
  readonly sfp: string;
  readonly masterUrl: string;
  readonly clockSkewSec: number;
  readonly pairingTtlMs: number;
  readonly maxCodeAttempts: number;
  /** VPN certificates and configurations of `vpn: true` terminals (deployment scenario A). */
  readonly vpn: ActorVpn;
  /** Nonces and last-seen times, committed in batches (no reply waits for them). */
  readonly writeBehind: WriteBehind;
  now(): number;
}
