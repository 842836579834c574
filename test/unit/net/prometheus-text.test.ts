/** @module Unit tests: the Prometheus text exposition written by hand, its escaping and the names it refuses. */
import { describe, expect, it } from 'vitest';
import { exposition } from '../../../src/net/prometheus-text.js';

describe('exposition', () => {
  it('writes HELP and TYPE before a family\'s samples, labels in braces, and ends the last line', () => {
    const text = exposition([
      { name: 'x_up', help: 'Up.', type: 'gauge', samples: [{ value: 1 }] },
      { name: 'x_answers_total', help: 'Answers.', type: 'counter', samples: [{ labels: { thread: '0', outcome: 'ok' }, value: 3 }, { labels: { thread: '1', outcome: 'ok' }, value: 0 }] },
      { name: 'x_none', help: 'No series now.', type: 'gauge', samples: [] },
    ]);
    expect(text).toBe([
      '# HELP x_up Up.', '# TYPE x_up gauge', 'x_up 1',
      '# HELP x_answers_total Answers.', '# TYPE x_answers_total counter',
      'x_answers_total{thread="0",outcome="ok"} 3', 'x_answers_total{thread="1",outcome="ok"} 0',
      '# HELP x_none No series now.', '# TYPE x_none gauge', '',
    ].join('\n'));
  });

  it('escapes backslash, double quote and line feed in label values, and backslash and line feed in HELP', () => {
    const text = exposition([{ name: 'x', help: 'a \\ b\nc "d"', type: 'gauge', samples: [{ labels: { l: 'q"\\\n' }, value: 0.25 }] }]);
    expect(text.split('\n')).toEqual(['# HELP x a \\\\ b\\nc "d"', '# TYPE x gauge', 'x{l="q\\"\\\\\\n"} 0.25', '']);
  });

  it('spells the values Prometheus reads for not-a-number and infinities', () => {
    const text = exposition([{ name: 'x', help: 'h', type: 'gauge', samples: [{ value: NaN }, { value: Infinity }, { value: -Infinity }, { value: 1.5e21 }] }]);
    expect(text.split('\n').filter((line) => !line.startsWith('#'))).toEqual(['x NaN', 'x +Inf', 'x -Inf', 'x 1.5e+21', '']);
  });

  it('refuses a name the format does not take, a counter without _total, a reserved label and a family given twice', () => {
    const gauge = (name: string) => ({ name, help: 'h', type: 'gauge' as const, samples: [] });
    expect(() => exposition([gauge('1x')])).toThrow('not a Prometheus metric name: 1x');
    expect(() => exposition([gauge('x-y')])).toThrow(/metric name/);
    expect(() => exposition([{ name: 'x_answers', help: 'h', type: 'counter', samples: [] }])).toThrow('a counter\'s name ends in _total: x_answers');
    expect(() => exposition([{ ...gauge('x'), samples: [{ labels: { __name__: 'y' }, value: 1 }] }])).toThrow(/label name/);
    expect(() => exposition([{ ...gauge('x'), samples: [{ labels: { 'a-b': 'y' }, value: 1 }] }])).toThrow(/label name/);
    expect(() => exposition([gauge('x'), gauge('x')])).toThrow('metric family twice: x');
  });
});
