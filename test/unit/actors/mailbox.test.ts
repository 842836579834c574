/** @module Unit tests: the mailbox runs one message at a time in arrival order, survives failures, starts afresh once idle, and runs a message at once when idle. */
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { Mailbox } from '../../../src/actors/mailbox.js';
import { ActorRegistry } from '../../../src/actors/registry.js';

describe('Mailbox', () => {
  it('runs messages one at a time in the order they were posted, whatever each one awaits', async () => {
    const mailbox = new Mailbox();
    const log: string[] = [];
    let running = 0;
    const message = (name: string, ms: number) => async () => {
      running++;
      expect(running).toBe(1);
      log.push(`${name} start`);
      await sleep(ms);
      log.push(`${name} end`);
      running--;
      return name;
    };
    const results = await Promise.all([mailbox.post(message('a', 15)), mailbox.post(message('b', 1)), mailbox.post(message('c', 5))]);
    expect(results).toEqual(['a', 'b', 'c']);
    expect(log).toEqual(['a start', 'a end', 'b start', 'b end', 'c start', 'c end']);
  });

  it('goes on after a message fails, and hands the failure to its sender only', async () => {
    const mailbox = new Mailbox();
    const failed = mailbox.post(() => Promise.reject(new Error('boom')));
    const next = mailbox.post(() => 'after');
    await expect(failed).rejects.toThrow('boom');
    await expect(next).resolves.toBe('after');
    expect(mailbox.depth).toBe(0);
  });

  it('counts messages until they settle, and keeps order across the moment it falls idle', async () => {
    const mailbox = new Mailbox();
    const order: number[] = [];
    const first = mailbox.post(async () => {
      await sleep(5);
      order.push(1);
    });
    expect(mailbox.depth).toBe(1);
    await first;
    await mailbox.idle();
    expect(mailbox.depth).toBe(0);
    // Idle now: a message posted while a new one is still running must still wait for it.
    const second = mailbox.post(async () => {
      await sleep(5);
      order.push(2);
    });
    const third = mailbox.post(() => order.push(3));
    expect(mailbox.depth).toBe(2);
    await Promise.all([second, third]);
    expect(order).toEqual([1, 2, 3]);
    expect(mailbox.depth).toBe(0);
  });

  it('keeps a message posted after an earlier one settled behind the one still running', async () => {
    const mailbox = new Mailbox();
    const order: string[] = [];
    const a = mailbox.post(() => order.push('a'));
    const b = mailbox.post(async () => {
      await sleep(10);
      order.push('b');
    });
    await a;
    // a has settled and the mailbox is not idle: c must still wait for b.
    await mailbox.post(() => order.push('c'));
    await b;
    expect(order).toEqual(['a', 'b', 'c']);
  });

  it('runs a message at once when idle: a value or a throw comes back in the sender\'s turn, with no promise', () => {
    const mailbox = new Mailbox();
    expect(mailbox.post(() => 'now')).toBe('now');
    expect(mailbox.depth).toBe(0);
    expect(() => mailbox.post(() => {
      throw new Error('refused');
    })).toThrow('refused');
    expect(mailbox.depth).toBe(0);
    expect(mailbox.post(() => 'still serving')).toBe('still serving');
  });

  it('keeps a message that an inline one posts behind it, whether the inline one answers at once or later', async () => {
    const mailbox = new Mailbox();
    const order: string[] = [];
    let inner: Promise<unknown> | unknown = null;
    const first = mailbox.post(() => {
      inner = mailbox.post(() => {
        order.push('inner');
        return 'inner';
      });
      order.push('outer');
      return 'outer';
    });
    expect(first).toBe('outer');
    expect(inner).toBeInstanceOf(Promise);
    expect(mailbox.depth).toBe(1);
    await expect(inner).resolves.toBe('inner');
    expect(order).toEqual(['outer', 'inner']);

    order.length = 0;
    const slow = mailbox.post(async () => {
      inner = mailbox.post(() => {
        order.push('inner');
      });
      await sleep(10);
      order.push('outer');
    });
    const after = mailbox.post(() => order.push('after'));
    await Promise.all([slow, inner, after]);
    expect(order).toEqual(['outer', 'inner', 'after']);
    expect(mailbox.depth).toBe(0);
    await mailbox.idle();
  });

  it('waits in idle() for a message that went on past its sender\'s turn', async () => {
    const mailbox = new Mailbox();
    let done = false;
    void mailbox.post(async () => {
      await sleep(10);
      done = true;
    });
    await mailbox.idle();
    expect(done).toBe(true);
  });
});

describe('ActorRegistry', () => {
  it('activates an actor on its first message and evicts it only when idle past the limit', async () => {
    let now = 0;
    let created = 0;
    const registry = new ActorRegistry<number, number>(() => {
      created++;
      let sum = 0;
      return { handle: async (n) => (sum += n) };
    }, 1_000, () => now);
    try {
      expect(await registry.ask('A', 1)).toBe(1);
      expect(await registry.ask('A', 2)).toBe(3);
      expect(created).toBe(1);
      now = 999;
      expect(registry.evictIdle()).toBe(0);
      now = 1_000;
      expect(registry.evictIdle()).toBe(1);
      expect(registry.size).toBe(0);
      // A new activation starts from nothing: state lives in the store, not in an evicted actor.
      expect(await registry.ask('A', 5)).toBe(5);
      expect(created).toBe(2);
    } finally {
      registry.close();
    }
  });

  it('never evicts an actor with a message in flight', async () => {
    let now = 0;
    let release!: () => void;
    const registry = new ActorRegistry<string, string>(() => ({
      handle: (c) => new Promise<string>((resolve) => (release = () => resolve(c))),
    }), 10, () => now);
    try {
      const pending = registry.ask('B', 'slow');
      now = 1_000;
      expect(registry.evictIdle()).toBe(0);
      await sleep(1); // the handler has started now, and still holds the message
      expect(registry.evictIdle()).toBe(0);
      release();
      await expect(pending).resolves.toBe('slow');
      expect(registry.evictIdle()).toBe(1);
    } finally {
      registry.close();
    }
  });

  it('tells its hooks of every activation and eviction, and evicts on request only an actor with nothing to do', async () => {
    let now = 0;
    const events: string[] = [];
    let release!: () => void;
    const registry = new ActorRegistry<string, string>(() => ({
      handle: (c) => (c === 'slow' ? new Promise<string>((resolve) => (release = () => resolve(c))) : Promise.resolve(c)),
    }), 10, () => now, { activated: (key) => events.push(`+${key}`), evicted: (key) => events.push(`-${key}`) });
    try {
      await registry.ask('C', 'quick');
      const pending = registry.ask('D', 'slow');
      expect(registry.evictIfIdle('D')).toBe(false);
      expect(registry.evictIfIdle('C')).toBe(true);
      expect(registry.evictIfIdle('C')).toBe(false);
      await sleep(1);
      release();
      await pending;
      now = 1_000;
      expect(registry.evictIdle()).toBe(1);
      expect(events).toEqual(['+C', '+D', '-C', '-D']);
    } finally {
      registry.close();
    }
  });
});
