/** @module What the CLIs read from stdin, over real streams: the first line and its size cap, and the hidden line typed at a terminal (Ctrl-D, Ctrl-C, Backspace), once or twice. */
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../../src/cli-errors.js';
import { readFirstLine, readHidden, readHiddenTwice, type HiddenTwiceRefusals, type RawInput } from '../../../src/cli-input.js';

/** A PassThrough that stands in for a TTY: it records the raw-mode switches that readHidden makes. */
function fakeTty(): { tty: RawInput & PassThrough; modes: boolean[] } {
  const modes: boolean[] = [];
  const tty = Object.assign(new PassThrough(), { isTTY: true, setRawMode: (raw: boolean) => modes.push(raw) });
  return { tty, modes };
}

function sink(): { out: PassThrough; text(): string } {
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on('data', (c: Buffer) => chunks.push(c));
  return { out, text: () => Buffer.concat(chunks).toString('utf8') };
}

async function codeOf(promise: Promise<unknown>): Promise<string> {
  const err = await promise.then(() => null, (e: unknown) => e);
  expect(err).toBeInstanceOf(UsageError);
  return (err as UsageError).code;
}

describe('readFirstLine', () => {
  it('gives the first line without its \\r\\n, null for an empty input, and releases the stream', async () => {
    const piped = new PassThrough();
    piped.end('pass word\r\nsecond line\n');
    expect(await readFirstLine(piped)).toBe('pass word');
    expect(piped.destroyed).toBe(true);
    // A second read of the same stream is an empty input, not a wait for data that will never come.
    expect(await readFirstLine(piped)).toBeNull();

    const empty = new PassThrough();
    empty.end();
    expect(await readFirstLine(empty)).toBeNull();
    const blank = new PassThrough();
    blank.end('\n');
    expect(await readFirstLine(blank)).toBe('');
    const unterminated = new PassThrough();
    unterminated.end('no newline');
    expect(await readFirstLine(unterminated)).toBe('no newline');
  });

  it('decodes a character whose UTF-8 bytes arrive in two chunks', async () => {
    const stream = new PassThrough();
    const euro = Buffer.from('€', 'utf8');
    const line = readFirstLine(stream);
    stream.write(Buffer.concat([Buffer.from('5 '), euro.subarray(0, 1)]));
    stream.write(Buffer.concat([euro.subarray(1), Buffer.from('\n')]));
    expect(await line).toBe('5 €');
  });

  it('takes a line of exactly the cap, and refuses one byte more with a usage error as soon as it has read it', async () => {
    const exact = new PassThrough();
    exact.end(`${'x'.repeat(8)}\r\n`);
    expect(await readFirstLine(exact, 8)).toBe('x'.repeat(8));

    // The writer never ends: the refusal comes from the cap, not from the end of the input.
    const endless = new PassThrough();
    const refused = readFirstLine(endless, 8);
    endless.write('x'.repeat(5));
    endless.write('x'.repeat(4));
    expect(await codeOf(refused)).toBe('bad_request');
    await expect(refused).rejects.toThrow('longer than 8 bytes');
    expect(endless.destroyed).toBe(true);
  });
});

describe('readHidden', () => {
  it('ends at Enter, echoes nothing, and leaves the terminal out of raw mode', async () => {
    const { tty, modes } = fakeTty();
    const { out, text } = sink();
    const line = readHidden(tty, 'password: ', out);
    tty.write('secret\r');
    expect(await line).toBe('secret');
    expect(text()).toBe('password: \n');
    expect(modes).toEqual([true, false]);
    expect(tty.isPaused()).toBe(true);
  });

  it('turns echo off before the prompt shows, so nothing typed on seeing it is echoed', () => {
    const { tty, modes } = fakeTty();
    const out = new PassThrough();
    const rawWhenPrompted: boolean[] = [];
    // The prompt's write is seen synchronously, as a TTY's is: raw mode MUST already be on then.
    out.write = (() => rawWhenPrompted.push(modes.at(-1) === true) > 0) as typeof out.write;
    void readHidden(tty, 'password: ', out);
    expect(rawWhenPrompted).toEqual([true]);
  });

  it('ends at Ctrl-D with what was typed, ignoring other control characters', async () => {
    const { tty } = fakeTty();
    const line = readHidden(tty, '', sink().out);
    tty.write('ab\u0001c\u0004ignored');
    expect(await line).toBe('abc');
  });

  it('Backspace removes a whole code point, also one of two UTF-16 units', async () => {
    const { tty } = fakeTty();
    const line = readHidden(tty, '', sink().out);
    tty.write('a😀\u007fb😀\b\bc\n');
    expect(await line).toBe('ac');
  });

  it('gives null when Ctrl-C cancels, so that the caller decides what that means', async () => {
    const { tty, modes } = fakeTty();
    const line = readHidden(tty, '', sink().out);
    tty.write('half typed\u0003');
    expect(await line).toBeNull();
    expect(modes).toEqual([true, false]);
  });

  it('refuses more than the cap in bytes, counting what Backspace took back', async () => {
    // € is 3 bytes in UTF-8: two fill a cap of 6, and Backspace makes room again.
    const fits = fakeTty();
    const line = readHidden(fits.tty, '', sink().out, 6);
    fits.tty.write('€€\u007f\u007fab€\r');
    expect(await line).toBe('ab€');

    const over = fakeTty();
    const refused = readHidden(over.tty, '', sink().out, 6);
    over.tty.write('€€\u007fab€');
    expect(await codeOf(refused)).toBe('bad_request');
    expect(over.modes).toEqual([true, false]);
  });
});

describe('readHiddenTwice', () => {
  const refuse: HiddenTwiceRefusals = {
    cancelled: () => new Error('cancelled'),
    empty: () => new Error('empty'),
    differ: () => new Error('differ'),
  };

  /** Types each line once its prompt has shown, as a person does; what the prompts' stream shows. */
  function typing(lines: string[]): { tty: RawInput & PassThrough; shown(): string; twice: Promise<string> } {
    const { tty } = fakeTty();
    const { out, text } = sink();
    out.on('data', (chunk: Buffer) => {
      if (chunk.toString().endsWith(': ')) tty.write(lines.shift() ?? '');
    });
    return { tty, shown: text, twice: readHiddenTwice(tty, ['secret: ', 'secret again: '], out, refuse) };
  }

  it('gives the line typed the same twice, after each prompt', async () => {
    const { twice, shown } = typing(['same line\r', 'same line\r']);
    expect(await twice).toBe('same line');
    expect(shown()).toBe('secret: \nsecret again: \n');
  });

  it('refuses two lines that differ with the caller\'s error', async () => {
    await expect(typing(['same line\r', 'same lime\r']).twice).rejects.toThrow('differ');
  });

  it('refuses Enter alone at once, without asking again', async () => {
    const { twice, shown } = typing(['\r']);
    await expect(twice).rejects.toThrow('empty');
    expect(shown()).toBe('secret: \n');
  });

  it('refuses Ctrl-C at either prompt as cancelled', async () => {
    await expect(typing(['\u0003']).twice).rejects.toThrow('cancelled');
    await expect(typing(['typed\r', '\u0003']).twice).rejects.toThrow('cancelled');
  });
});
