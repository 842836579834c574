/** @module One progress line: rewritten in place on a terminal, printed at most every few seconds when the output is a file or pipe. */

const QUIET_INTERVAL_MS = 5_000;

export class Progress {
  private lastPrinted = 0;
  private showing = false;

  constructor(private readonly out: NodeJS.WriteStream = process.stderr) {}

  update(text: string): void {
    if (this.out.isTTY) {
      this.out.write(`\r\x1b[K${text.slice(0, (this.out.columns ?? 160) - 1)}`);
      this.showing = true;
      return;
    }
    const now = Date.now();
    if (now - this.lastPrinted < QUIET_INTERVAL_MS) return;
    this.lastPrinted = now;
    this.out.write(`${text}\n`);
  }

  /** Ends the line with a final message that always prints. */
  done(text: string): void {
    if (this.out.isTTY && this.showing) this.out.write('\r\x1b[K');
    this.showing = false;
    this.lastPrinted = 0;
    this.out.write(`${text}\n`);
  }
}
