/** @module The check every offline `pairing-server` command makes before it opens a data dir's store. */
import fs from 'node:fs';
import path from 'node:path';
import { AppError } from '../errors.js';

/**
 * A data dir is one a server has started on: it holds the store (`DIR/store`, store.ts). Only `serve` creates one,
 * so a mistyped or missing --data-dir is an error here rather than a new, empty server that answers for the real one.
 */
export function requireDataDir(dataDir: string): void {
  if (!fs.existsSync(path.join(dataDir, 'store', 'data.mdb'))) {
    throw new AppError('not_found', `no data dir at ${dataDir}: start the server once (pairing-server serve --data-dir ${dataDir}) or pass the right --data-dir`);
  }
}
