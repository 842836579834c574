/** @module The version the terminal reports in its pairing info: the project's package.json, found from this file whether run from src/ or dist/. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../package-root.js';

let cached: string | null = null;

export function softwareVersion(): string {
  cached ??= readVersion();
  return cached;
}

function readVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version?: unknown };
    return typeof pkg.version === 'string' ? pkg.version : 'unknown';
  } catch {
    // Only informational for the operator: an install without a readable package.json still pairs.
    return 'unknown';
  }
}
