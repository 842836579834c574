/** @module The version the terminal reports in its pairing info: the project's package.json, found from this file whether run from src/ or dist/. */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const PACKAGE_NAME = 'terminal-pairing-server';
let cached: string | null = null;

export function softwareVersion(): string {
  if (cached !== null) return cached;
  cached = 'unknown';
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let depth = 0; depth < 6; depth += 1) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: unknown; version?: unknown };
      if (pkg.name === PACKAGE_NAME && typeof pkg.version === 'string') {
        cached = pkg.version;
        break;
      }
    } catch {
      // no package.json at this level; keep walking up
    }
    dir = dirname(dir);
  }
  return cached;
}
