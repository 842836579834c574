/**
 * @module What `GET /metrics` tells: the numbers of `server.status`, the gate window and the audit head, as Prometheus
 * families. Counts and states only: no serial, fingerprint, account or address, nothing of the store's records.
 * Labels are bounded by the server's shape (threads × services × outcomes), never by the fleet or its traffic.
 */
import type { FrontThreadStatus, GateStatus, ServerStatus, ServiceCounts } from '../protocol/types.js';
import type { MetricFamily, Sample } from './prometheus-text.js';

export interface MetricsSnapshot {
  status: ServerStatus;
  gate: GateStatus;
  /** Sequence number of the last audit entry; null while the log is empty. */
  auditHeadSeq: number | null;
  /** When the snapshot was taken (ms since the epoch): the gate's time left is counted from it. */
  now: number;
}

const STATES: readonly FrontThreadStatus['state'][] = ['running', 'restarting', 'not_responding'];
const SERVICES = ['master', 'gate'] as const;
const OUTCOMES: readonly (keyof ServiceCounts)[] = ['answered', 'refused', 'failed'];

const PREFIX = 'pairing_server_';
const one = (value: number): Sample[] => [{ value }];
const flag = (on: boolean): number => (on ? 1 : 0);

export function serverMetrics({ status, gate, auditHeadSeq, now }: MetricsSnapshot): MetricFamily[] {
  const { threads, disk } = status;
  const thread = (t: FrontThreadStatus): { thread: string } => ({ thread: String(t.thread) });
  // A thread that is not running has no report: its series are left out of this scrape rather than shown as zeros,
  // which a graph would draw as a real drop (its state says why).
  const reporting = threads.filter((t) => t.report !== null);
  const perReport = (value: (r: NonNullable<FrontThreadStatus['report']>) => number): Sample[] =>
    reporting.map((t) => ({ labels: thread(t), value: value(t.report!) }));
  const closesAt = gate.open && gate.openUntil !== null ? Date.parse(gate.openUntil) : null;
  const families: MetricFamily[] = [
    { name: 'process_start_time_seconds', type: 'gauge', help: 'When the server process started, in seconds since the Unix epoch.', samples: one(Date.parse(status.startedAt) / 1000) },
    { name: 'process_resident_memory_bytes', type: 'gauge', help: 'Resident memory of the whole server process (every thread shares it).', samples: one(status.rssBytes) },
    // Where the system does not split RSS nothing is said, rather than a zero a graph would read as no file pages.
    ...(status.rssFileBytes === null ? [] : [{
      name: `${PREFIX}resident_file_bytes`, type: 'gauge' as const,
      help: 'Of process_resident_memory_bytes, pages of mapped files (the store, mapped whole, and the program): the kernel drops them under memory pressure. The rest is the process\'s own memory.',
      samples: one(status.rssFileBytes),
    }]),
    { name: `${PREFIX}uptime_seconds`, type: 'gauge', help: 'Seconds since the server started.', samples: one(status.uptimeSec) },
    { name: `${PREFIX}terminals`, type: 'gauge', help: 'Terminals operators created, paired or not (the store\'s own count).', samples: one(status.terminals) },
    { name: `${PREFIX}pairing_requests`, type: 'gauge', help: 'Pairing requests the store holds in any state; climbing while nobody pairs is someone filing requests at the open gate.', samples: one(status.pairingHistory.requests) },
    { name: `${PREFIX}gate_open`, type: 'gauge', help: '1 while the gate is open (anyone may file pairing requests), else 0.', samples: one(flag(gate.open)) },
    { name: `${PREFIX}gate_closes_in_seconds`, type: 'gauge', help: 'Seconds until the open gate closes by itself; 0 while it is closed.', samples: one(closesAt === null ? 0 : Math.max(0, Math.round((closesAt - now) / 1000))) },
    { name: `${PREFIX}audit_head_seq`, type: 'gauge', help: 'Sequence number of the last audit log entry (operator actions so far); 0 while the log is empty.', samples: one(auditHeadSeq ?? 0) },
  ];
  // --min-free-disk 0 turns the check off: then nothing is known of the disk, and nothing is said.
  if (disk !== null) {
    families.push(
      { name: `${PREFIX}disk_free_bytes`, type: 'gauge', help: 'Free space on the data dir\'s disk as last read (once a second).', samples: one(disk.freeBytes) },
      { name: `${PREFIX}disk_min_free_bytes`, type: 'gauge', help: 'Below this free space (--min-free-disk) cash events are refused.', samples: one(disk.minFreeBytes) },
      { name: `${PREFIX}disk_low`, type: 'gauge', help: '1 while the disk is below --min-free-disk: cash events are answered 503 storage_unavailable.', samples: one(flag(disk.low)) },
    );
  }
  families.push(
    { name: `${PREFIX}threads`, type: 'gauge', help: 'Front-end threads the server runs (--threads).', samples: one(threads.length) },
    {
      name: `${PREFIX}thread_state`, type: 'gauge', help: 'A front thread\'s state: 1 for the state it is in, 0 for the others.',
      samples: threads.flatMap((t) => STATES.map((state) => ({ labels: { ...thread(t), state }, value: flag(t.state === state) }))),
    },
    { name: `${PREFIX}thread_restarts_total`, type: 'counter', help: 'Times a front thread exited unexpectedly and was restarted.', samples: threads.map((t) => ({ labels: thread(t), value: t.restarts })) },
    { name: `${PREFIX}thread_leases`, type: 'gauge', help: 'Buckets of serials whose actors run on a front thread.', samples: threads.map((t) => ({ labels: thread(t), value: t.leases })) },
    { name: `${PREFIX}actors`, type: 'gauge', help: 'Terminal actors in memory on a front thread (terminals heard from within --actor-idle).', samples: perReport((r) => r.actors) },
    {
      name: `${PREFIX}in_flight_requests`, type: 'gauge', help: 'Requests a front thread admitted and has not answered yet, by service.',
      samples: reporting.flatMap((t) => SERVICES.map((service) => ({ labels: { ...thread(t), service }, value: t.report!.inFlight[service] }))),
    },
    {
      name: `${PREFIX}answers_total`, type: 'counter',
      help: 'Answers of a front thread since it started, by service and outcome (answered: 2xx, refused: 4xx, failed: 5xx); from zero again after a restart.',
      samples: reporting.flatMap((t) => SERVICES.flatMap((service) => OUTCOMES.map((outcome) => ({ labels: { ...thread(t), service, outcome }, value: t.report![service][outcome] })))),
    },
    { name: `${PREFIX}calls_handed_on_total`, type: 'counter', help: 'Calls that reached a front thread for a serial another thread holds, handed to that thread; from zero after a restart.', samples: perReport((r) => r.handedOn) },
    { name: `${PREFIX}calls_received_total`, type: 'counter', help: 'Calls another front thread handed to this one; from zero after a restart.', samples: perReport((r) => r.received) },
    { name: `${PREFIX}thread_busy_ratio`, type: 'gauge', help: 'Share of the last 5 s a front thread\'s event loop worked (0-1); near 1 it is saturated.', samples: perReport((r) => r.busy) },
    {
      name: `${PREFIX}thread_loop_lag_max_seconds`, type: 'gauge',
      help: 'Longest a front thread\'s event loop was late in about the last minute: what a call could have waited behind one piece of its work, or behind the thread waiting for a CPU.',
      samples: perReport((r) => r.lagMaxMs / 1000),
    },
    { name: `${PREFIX}thread_heap_used_bytes`, type: 'gauge', help: 'V8 heap in use on a front thread.', samples: perReport((r) => r.heapUsedBytes) },
    { name: `${PREFIX}tracked_addresses`, type: 'gauge', help: 'Addresses the per-address rate limits of master and the gate track on a front thread (those heard from within about a minute).', samples: perReport((r) => r.trackedAddresses) },
    { name: `${PREFIX}cached_keys`, type: 'gauge', help: 'Terminal public keys a front thread keeps parsed for verifying (those that called within about ten minutes).', samples: perReport((r) => r.cachedKeys) },
  );
  return families;
}
