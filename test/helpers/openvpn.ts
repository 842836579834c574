/** @module Runs Debian's `openvpn` for the VPN tests: processes with bounded waits on their log, and a pair of network namespaces joined by a veth link. */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';

/** How the tests can exercise OpenVPN here: a real tunnel between namespaces, or only up to opening the tun device. */
export type VpnTestMode = 'tunnel' | 'parse';

/** `openvpn` and `ip` live in sbin, which a non-root PATH often lacks. */
export function sbin(name: string): string {
  const dirs = [...(process.env.PATH ?? '').split(':'), '/usr/sbin', '/sbin'].filter((dir) => dir !== '');
  return dirs.map((dir) => `${dir}/${name}`).find((file) => fs.existsSync(file)) ?? name;
}

const IP = sbin('ip');
const run = (cmd: string, args: string[]) => spawnSync(cmd, args, { encoding: 'utf8', timeout: 10_000 });

/** `tunnel` needs root, /dev/net/tun, network namespaces and tun devices inside them; VPN_TEST_MODE=parse forces the fallback. */
export function vpnTestMode(): VpnTestMode {
  if (process.env.VPN_TEST_MODE === 'parse') return 'parse';
  if (process.getuid?.() !== 0 || !fs.existsSync('/dev/net/tun')) return 'parse';
  const probe = `vpnprobe${process.pid}`;
  if (run(IP, ['netns', 'add', probe]).status !== 0) return 'parse';
  try {
    return run(IP, ['-n', probe, 'tuntap', 'add', 'mode', 'tun', 'name', 'probe0']).status === 0 ? 'tunnel' : 'parse';
  } finally {
    run(IP, ['netns', 'del', probe]);
  }
}

/** Two namespaces, `server` at 192.168.77.1 and `client` at 192.168.77.2, linked by a veth pair created inside them. */
export class NamespacePair {
  readonly server = `vpnsrv${process.pid}`;
  readonly client = `vpncli${process.pid}`;
  readonly serverAddress = '192.168.77.1';

  constructor() {
    const steps: string[][] = [
      ['netns', 'add', this.server],
      ['netns', 'add', this.client],
      ['link', 'add', 'name', 'veth0', 'netns', this.server, 'type', 'veth', 'peer', 'name', 'veth1', 'netns', this.client],
      ['-n', this.server, 'addr', 'add', `${this.serverAddress}/24`, 'dev', 'veth0'],
      ['-n', this.client, 'addr', 'add', '192.168.77.2/24', 'dev', 'veth1'],
      ['-n', this.server, 'link', 'set', 'veth0', 'up'],
      ['-n', this.client, 'link', 'set', 'veth1', 'up'],
      ['-n', this.server, 'link', 'set', 'lo', 'up'],
      ['-n', this.client, 'link', 'set', 'lo', 'up'],
    ];
    for (const step of steps) {
      const result = run(IP, step);
      if (result.status !== 0) {
        this.remove();
        throw new Error(`ip ${step.join(' ')} failed: ${result.stderr}`);
      }
    }
  }

  /** Deleting a namespace removes its veth end, and so the pair. */
  remove(): void {
    run(IP, ['netns', 'del', this.server]);
    run(IP, ['netns', 'del', this.client]);
  }
}

/** A child process whose combined output is kept, with waits that always end. */
export class LoggedProcess {
  private text = '';
  private readonly exited: Promise<number | null>;

  private constructor(private readonly child: ChildProcess) {
    child.stdout!.on('data', (chunk: Buffer) => { this.text += chunk.toString(); });
    child.stderr!.on('data', (chunk: Buffer) => { this.text += chunk.toString(); });
    this.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  }

  /** Runs `command` in namespace `netns` when given (`ip netns exec` execs it, so the pid is the command's own). */
  static start(command: string, args: string[], opts: { netns?: string; cwd?: string } = {}): LoggedProcess {
    const [cmd, argv] = opts.netns ? [IP, ['netns', 'exec', opts.netns, command, ...args]] : [command, args];
    return new LoggedProcess(spawn(cmd as string, argv as string[], { cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'] }));
  }

  output(): string {
    return this.text;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Resolves with the first output line matching `pattern`; rejects when the process exits first or `timeoutMs` passes. */
  waitFor(pattern: RegExp, timeoutMs: number): Promise<string> {
    return new Promise((resolve, reject) => {
      const find = (): string | undefined => this.text.split('\n').find((line) => pattern.test(line));
      const finish = (fn: () => void): void => {
        clearInterval(poll);
        clearTimeout(timer);
        fn();
      };
      const poll = setInterval(() => {
        const line = find();
        if (line !== undefined) finish(() => resolve(line));
        else if (!this.running) finish(() => reject(new Error(`exited before ${pattern}:\n${this.tail()}`)));
      }, 50);
      const timer = setTimeout(() => finish(() => reject(new Error(`no ${pattern} within ${timeoutMs} ms:\n${this.tail()}`))), timeoutMs);
    });
  }

  /** Resolves with the exit code; SIGTERM first, SIGKILL if it lingers. */
  async stop(): Promise<number | null> {
    if (!this.running) return this.exited;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 3000);
    const code = await this.exited;
    clearTimeout(timer);
    return code;
  }

  /** Waits for the process to end by itself, at most `timeoutMs`. */
  async ended(timeoutMs: number): Promise<number | null> {
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    const code = await this.exited;
    clearTimeout(timer);
    return code;
  }

  private tail(): string {
    return this.text.split('\n').slice(-25).join('\n');
  }
}
