/** @module Runs the project's real CLIs (compiled) as child processes, with optional stdin, and parses their --json output. */
import { execFile } from 'node:child_process';
import { CAS_CLI, SERVER_CLI, TERMINAL_CLI } from './server-process.js';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
  json: any;
}

export function runCli(script: string, args: string[], stdin?: string, env: Record<string, string> = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [script, ...args], { timeout: 60_000, env: { ...process.env, PAIRING_LOG_PRETTY: '0', ...env } }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      // Whole stdout (pretty-printed JSON), else its last line, else stderr's last line (errors with --json).
      const candidates = [stdout.trim(), stdout.trim().split('\n').at(-1), stderr.trim().split('\n').at(-1)];
      let json: unknown = null;
      for (const text of candidates) {
        try {
          json = JSON.parse(text ?? '');
          break;
        } catch {
          json = null;
        }
      }
      resolve({ code, stdout, stderr, json });
    });
    child.stdin!.end(stdin ?? '');
  });
}

export const terminalCli = (stateDir: string, args: string[], stdin?: string) => runCli(TERMINAL_CLI, ['--state', stateDir, ...args, '--json'], stdin);
export const serverCli = (args: string[], stdin?: string) => runCli(SERVER_CLI, args, stdin);
export const casCli = (args: string[], stdin?: string, env?: Record<string, string>) => runCli(CAS_CLI, args, stdin, env);

/** The parsed --json output of a command that must have succeeded; otherwise fails with what it printed. */
export function ok(result: CliResult): any {
  if (result.code !== 0) throw new Error(`exit ${result.code}: ${result.stderr}${result.stdout}`);
  return result.json;
}
