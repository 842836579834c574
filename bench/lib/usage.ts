/** @module The benchmark scripts' command lines: a bad option is a usage error, reported as one line before anything is measured. */
import { parseArgs, type ParseArgsConfig } from 'node:util';

/** A bad option: the script prints it with its help and exits 2. */
export class UsageError extends Error {}

/** node:util's parseArgs, its refusals (an unknown option, a missing value) as usage errors. */
export function parseOptions<T extends ParseArgsConfig>(config: T): ReturnType<typeof parseArgs<T>> {
  try {
    return parseArgs(config);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

/** The whole number `raw` given for `--name`, at least `least`, or a usage error saying what it must be. */
export function wholeOption(name: string, raw: string, least = 1): number {
  const v = Number(raw);
  if (!Number.isInteger(v) || v < least) throw new UsageError(`--${name} must be a ${least === 0 ? 'whole number, 0 or more' : 'positive whole number'}, got "${raw}"`);
  return v;
}
