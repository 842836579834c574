/** @module What the server's debug log says of serial leases (src/actors/serial-leases.ts): which thread took a serial's, and which buckets were freed. */
import { bucketOf } from '../../src/actors/serial-leases.js';
import type { ServerProcess } from './server-process.js';

type LogLine = Record<string, unknown>;

/** A thread took `serial`'s lease (the line carries the thread). */
export const isClaimOf = (serial: string) => (l: LogLine): boolean => l.msg === 'took the lease of a serial' && l.serial === serial;

/** A thread freed the bucket `serial` is in. */
export const isReleaseOf = (serial: string) => (l: LogLine): boolean => l.msg === 'released the lease of a bucket of serials' && l.bucket === bucketOf(serial);

export const leaseClaims = (server: Pick<ServerProcess, 'logs'>, serial: string): LogLine[] => server.logs.filter(isClaimOf(serial));

export const leaseReleases = (server: Pick<ServerProcess, 'logs'>, serial: string): LogLine[] => server.logs.filter(isReleaseOf(serial));
