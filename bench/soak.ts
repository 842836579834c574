/**
 * @module `npm run soak`: the heavy crash test. Paired terminals send cash events while the server is SIGKILLed at random
 * moments (default 50 times) and restarted; then every acknowledged event must be stored exactly once and every pin intact.
 * Writes test-output/reliability/soak.json and regenerates docs/RELIABILITY.md. Exit code 1 on any loss.
 */
import { parseArgs } from 'node:util';
import { runCrashSoak } from '../test/helpers/crash-soak.js';
import { writeSection } from '../test/helpers/reliability.js';
import { composeReport } from '../test/reliability-report.js';

const HELP = `npm run soak -- [options]   (or SOAK_KILLS=N npm run soak)

  --kills N       SIGKILLs at random moments           default 50 (env SOAK_KILLS)
  --terminals N   paired terminals sending events       default 4
  --writers N     concurrent senders per terminal       default 2
  --min-delay MS  shortest time from restart to kill    default 100
  --max-delay MS  longest time from restart to kill     default 2000`;

function positive(name: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n <= 0) {
    process.stderr.write(`--${name} must be a positive whole number\n${HELP}\n`);
    process.exit(2);
  }
  return n;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      kills: { type: 'string' }, terminals: { type: 'string' }, writers: { type: 'string' },
      'min-delay': { type: 'string' }, 'max-delay': { type: 'string' }, help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(`${HELP}\n`);
    return;
  }
  const started = Date.now();
  const opts = {
    kills: positive('kills', values.kills ?? process.env.SOAK_KILLS, 50),
    terminals: positive('terminals', values.terminals, 4),
    writers: positive('writers', values.writers, 2),
    minDelayMs: positive('min-delay', values['min-delay'], 100),
    maxDelayMs: positive('max-delay', values['max-delay'], 2_000),
  };
  const tty = process.stderr.isTTY === true;
  const result = await runCrashSoak({
    ...opts,
    onProgress: (line) => process.stderr.write(tty ? `\r\x1b[K${line}` : `${line}\n`),
  });
  if (tty) process.stderr.write('\n');
  const failures = [
    ...result.lost.map((id) => `acknowledged event ${id} lost`),
    ...result.notExactlyOnce.map((id) => `event ${id} not stored exactly once`),
    ...result.brokenPins.map((serial) => `terminal ${serial} lost its pin or master access`),
    ...Object.keys(result.refused).filter((k) => !k.startsWith('503') && !k.startsWith('429')).map((k) => `refused while alive: ${k} ×${result.refused[k]}`),
    ...(result.auditChainIntact ? [] : ['audit chain broken']),
    ...(result.finalExitCode === 0 ? [] : [`final SIGTERM exit code ${result.finalExitCode}`]),
  ];
  writeSection({
    name: 'soak',
    title: `Crash soak (${result.kills} SIGKILLs, npm run soak)`,
    summary: [
      `${opts.terminals} paired terminals × ${opts.writers} senders; SIGKILL ${opts.minDelayMs}–${opts.maxDelayMs} ms after each restart, ${result.kills} times, in ${Math.round(result.durationMs / 1000)} s; slowest restart ${result.slowestRestartMs} ms.`,
      `${result.acknowledged} events acknowledged, ${result.lost.length} lost; ${result.unanswered} unanswered, ${result.notExactlyOnce.length} not settled to exactly one copy.`,
      `Pins intact: ${result.brokenPins.length === 0 ? 'all' : result.brokenPins.join(', ')}; audit chain ${result.auditChainIntact ? 'intact' : 'BROKEN'}; final graceful stop exit code ${result.finalExitCode}.`,
      failures.length === 0 ? 'Result: pass.' : `Result: FAIL — ${failures.slice(0, 5).join('; ')}${failures.length > 5 ? '; …' : ''}`,
    ],
    numbers: { kills: result.kills, eventsAcknowledged: result.acknowledged, eventsLost: result.lost.length + result.notExactlyOnce.length },
  });
  composeReport({ since: started });
  process.stdout.write(`${JSON.stringify({ ...result, lost: result.lost.length, notExactlyOnce: result.notExactlyOnce.length, failures }, null, 2)}\n`);
  process.exitCode = failures.length === 0 ? 0 : 1;
}

main().catch((error: unknown) => {
  process.stderr.write(`soak failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
