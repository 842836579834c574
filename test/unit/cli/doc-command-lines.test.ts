/**
 * @module The command lines the operator docs give (README.md, docs/TERMINAL-CLI.md, docs/ADMIN-OPS.md,
 * docs/TROUBLESHOOTING.md) use only options their program takes for that command: a new operator types them as
 * written. Each `cas`, `terminal` and `pairing-server` line in a code span or block is read for its command and its
 * `--options`; placeholders and the words between are not checked.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { GLOBAL_OPTIONS as CAS_GLOBAL_OPTIONS } from '../../../src/admin/cli-args.js';
import { COMMANDS as CAS_COMMANDS } from '../../../src/admin/cli-commands.js';
import { CONFIG_OPTIONS } from '../../../src/config.js';
import { COMMAND_HELP as SERVER_HELP, type ServerCommand } from '../../../src/server/cli-help.js';
import { COMMAND_OPTIONS as TERMINAL_OPTIONS, GLOBAL_OPTIONS as TERMINAL_GLOBAL_OPTIONS } from '../../../src/terminal/cli.js';

const DOCS = ['README.md', 'docs/TERMINAL-CLI.md', 'docs/ADMIN-OPS.md', 'docs/TROUBLESHOOTING.md'];
const ROOT = path.resolve(import.meta.dirname, '../../..');

interface DocLine { where: string; program: 'cas' | 'terminal' | 'pairing-server'; words: string[]; options: string[] }

/** Every command line in a code span, or on a line of a code block, with where it is. */
function commandLines(): DocLine[] {
  const found: DocLine[] = [];
  for (const doc of DOCS) {
    let inBlock = false;
    fs.readFileSync(path.join(ROOT, doc), 'utf8').split('\n').forEach((line, i) => {
      if (line.startsWith('```')) inBlock = !inBlock;
      const pieces = [...line.matchAll(/`([^`]+)`/g)].map((m) => m[1]!);
      if (inBlock || line.startsWith('    ')) pieces.push(line);
      for (const piece of pieces) {
        // A program's name, then its words up to what ends a shell command (a pipe to another program, ;, &&, a paren).
        for (const m of piece.matchAll(/(?:^|[\s(=$])(cas|terminal|pairing-server)\s+((?:[^|;&)`]|\|(?=[a-z0-9-]))*)/g)) {
          const tokens = m[2]!.split(/\s+/).filter(Boolean);
          found.push({
            where: `${doc}:${i + 1}`,
            program: m[1] as DocLine['program'],
            words: tokens.filter((t) => /^[a-z][a-z0-9-]*$/.test(t)),
            options: tokens.filter((t) => /^--[a-z0-9]/.test(t)).map((t) => /^--([a-z0-9-]+)/.exec(t)![1]!),
          });
        }
      }
    });
  }
  return found;
}

/** The options `line` names that its program refuses for its command; null when the line names no command. */
function refused(line: DocLine): string[] | null {
  if (line.program === 'cas') {
    const command = CAS_COMMANDS.find((c) => c.name === line.words.slice(0, c.name.split(' ').length).join(' '));
    if (command === undefined) return null;
    return line.options.filter((o) => !Object.hasOwn(CAS_GLOBAL_OPTIONS, o) && !(command.options as readonly string[]).includes(o));
  }
  if (line.program === 'terminal') {
    const command = line.words.find((w) => Object.hasOwn(TERMINAL_OPTIONS, w)) as keyof typeof TERMINAL_OPTIONS | undefined;
    if (command === undefined) return null;
    return line.options.filter((o) => !Object.hasOwn(TERMINAL_GLOBAL_OPTIONS, o) && !Object.hasOwn(TERMINAL_OPTIONS[command], o));
  }
  const two = line.words.slice(0, 2).join(' ');
  const command = (Object.hasOwn(SERVER_HELP, two) ? two : Object.hasOwn(SERVER_HELP, line.words[0] ?? '') ? line.words[0] : line.words.length === 0 ? 'serve' : null) as ServerCommand | null;
  if (command === null) return null;
  // A command's own flags are those its usage line names; the server's are every command's.
  const usage = new Set([...SERVER_HELP[command].split('\n\n', 1)[0]!.matchAll(/--([a-z0-9-]+)/g)].map((m) => m[1]!));
  return line.options.filter((o) => !Object.hasOwn(CONFIG_OPTIONS, o) && o !== 'help' && !usage.has(o));
}

describe('command lines in the operator docs', () => {
  const lines = commandLines();

  it('are found in every doc, for each program', () => {
    for (const program of ['cas', 'terminal', 'pairing-server'] as const) expect(lines.filter((l) => l.program === program && refused(l) !== null).length).toBeGreaterThan(10);
    for (const doc of DOCS) expect(lines.some((l) => l.where.startsWith(`${doc}:`))).toBe(true);
  });

  it('use only options their command takes', () => {
    const wrong = lines.flatMap((line) => (refused(line) ?? []).map((option) => `${line.where}: ${line.program} ${line.words.join(' ')} --${option}`));
    expect(wrong).toEqual([]);
  });
});
