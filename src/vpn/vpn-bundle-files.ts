/** @module Operator side of `cas vpn export --out DIR`: writes the OpenVPN server bundle the admin channel returned, key files owner-only. */
import { chmodSync, closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import path from 'node:path';
import { AppError } from '../errors.js';

export interface WrittenBundle {
  out: string;
  files: { name: string; mode: string }[];
}

interface BundleFile {
  name: string;
  content: string;
  secret: boolean;
}

/** Names come from the server: plain file names only, never a path that leaves DIR. */
const FILE_NAME = /^[a-z0-9][a-z0-9.-]{0,63}$/;

function filesOf(result: unknown): BundleFile[] {
  const files = (result as { files?: unknown } | null)?.files;
  if (!Array.isArray(files)) throw new AppError('bad_request', 'the server answered vpn.export without files');
  return files.map((f: unknown) => {
    const file = f as Partial<BundleFile> | null;
    if (typeof file?.name !== 'string' || !FILE_NAME.test(file.name) || typeof file.content !== 'string' || typeof file.secret !== 'boolean') {
      throw new AppError('bad_request', 'the server answered vpn.export with a malformed file entry');
    }
    return { name: file.name, content: file.content, secret: file.secret };
  });
}

/** Writes every file of the bundle into `dir` (created 0700 if missing); existing files are replaced. */
export function writeVpnBundle(dir: string, result: unknown): WrittenBundle {
  const files = filesOf(result);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const written: WrittenBundle['files'] = [];
  for (const file of files) {
    const mode = file.secret ? 0o600 : 0o644;
    const target = path.join(dir, file.name);
    // MUST be created with its final mode, and an existing file narrowed before the key is written into it.
    const fd = openSync(target, 'w', mode);
    try {
      chmodSync(target, mode);
      writeSync(fd, file.content);
    } finally {
      closeSync(fd);
    }
    written.push({ name: file.name, mode: `0${mode.toString(8)}` });
  }
  return { out: path.resolve(dir), files: written };
}
