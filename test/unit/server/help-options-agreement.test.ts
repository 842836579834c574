/**
 * @module `pairing-server --help` lists every option the server's parser takes, and `serve --help` every one serve
 * takes: the overview named --new-identity only in passing ("Each option but --help and --new-identity"), so an
 * operator told by TROUBLESHOOTING.md to run `serve --new-identity` found no such option in the list.
 */
import { describe, expect, it } from 'vitest';
import { COMMAND_HELP, HELP } from '../../../src/server/cli-help.js';
import { CONFIG_OPTIONS } from '../../../src/config.js';

/** The options a help text lists: the lines that start with one, as the Options block draws them. */
const listed = (help: string): string[] => [...help.matchAll(/^ {2}(--[a-z0-9-]+)/gm)].map((m) => m[1]!);

describe('pairing-server help', () => {
  it('lists every server option in the overview and in serve --help', () => {
    for (const [name, help] of [['--help', HELP], ['serve --help', COMMAND_HELP.serve]] as const) {
      const missing = Object.keys(CONFIG_OPTIONS).map((o) => `--${o}`).filter((o) => !listed(help).includes(o));
      expect({ help: name, missing }).toEqual({ help: name, missing: [] });
    }
  });
});
