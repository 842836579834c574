/**
 * @module The Prometheus text exposition format (version 0.0.4), written by hand: a family is a name, its HELP and
 * TYPE, and samples with labels. A client library would bring a global registry and its own process collectors,
 * while this server's numbers are read from its threads on request (docs/DECISIONS.md, "Metrics").
 */

export const EXPOSITION_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

export type MetricType = 'counter' | 'gauge';

export interface Sample {
  /** Label names and values; values are escaped here, names MUST match LABEL_NAME (checked). */
  labels?: Readonly<Record<string, string>>;
  value: number;
}

export interface MetricFamily {
  name: string;
  help: string;
  type: MetricType;
  samples: readonly Sample[];
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
/** Names starting with `__` are Prometheus's own. */
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** HELP text escapes backslash and line feed; a label value also the double quote (the format's only two rules). */
const escapeHelp = (text: string): string => text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
export const escapeLabelValue = (text: string): string => text.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');

/** Go's ParseFloat spellings, which Prometheus reads: `NaN`, `+Inf`, `-Inf`; anything else as JavaScript prints it. */
function formatValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(value);
}

function formatLabels(labels: Readonly<Record<string, string>> | undefined): string {
  if (!labels) return '';
  const pairs = Object.entries(labels);
  if (pairs.length === 0) return '';
  return `{${pairs.map(([name, value]) => {
    if (!LABEL_NAME.test(name) || name.startsWith('__')) throw new Error(`not a Prometheus label name: ${name}`);
    return `${name}="${escapeLabelValue(value)}"`;
  }).join(',')}}`;
}

/**
 * The exposition of `families`, in order. A family without samples still gets its HELP and TYPE: a scrape then says
 * the metric exists and has no series now (a thread's report while it is down). Throws on a name the format refuses,
 * or a counter not ending in `_total`: a programming error, never the data's.
 */
export function exposition(families: readonly MetricFamily[]): string {
  const lines: string[] = [];
  const seen = new Set<string>();
  for (const family of families) {
    if (!METRIC_NAME.test(family.name)) throw new Error(`not a Prometheus metric name: ${family.name}`);
    if (family.type === 'counter' && !family.name.endsWith('_total')) throw new Error(`a counter's name ends in _total: ${family.name}`);
    // MUST NOT repeat a family: Prometheus refuses the whole scrape when a name's HELP or TYPE comes twice.
    if (seen.has(family.name)) throw new Error(`metric family twice: ${family.name}`);
    seen.add(family.name);
    lines.push(`# HELP ${family.name} ${escapeHelp(family.help)}`, `# TYPE ${family.name} ${family.type}`);
    for (const sample of family.samples) lines.push(`${family.name}${formatLabels(sample.labels)} ${formatValue(sample.value)}`);
  }
  // The format ends every line, the last one too.
  return lines.join('\n') + '\n';
}
