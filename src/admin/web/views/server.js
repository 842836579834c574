/**
 * @module The server: its front-end threads (state, restarts, actors in memory, load, answers so far), refreshed every
 * few seconds while shown. server.status does not extend the operator's session, so an unattended page still ends
 * its session after the idle time.
 */
import { dataTable, fill, h } from '../dom.js';
import { errorText, formatTime } from '../format.js';

const STATE_LABELS = { running: 'running', restarting: 'restarting', not_responding: 'not responding' };

function mib(bytes) {
  return `${Math.round(bytes / 1024 / 1024).toLocaleString()} MiB`;
}

/**
 * The process's memory, its own apart from the pages of the store it maps whole (the kernel's to drop): those grow with
 * every terminal read and are no leak. A server that cannot tell (not Linux) gives the whole only.
 */
function memory(status) {
  if (typeof status.rssFileBytes !== 'number') return `memory ${mib(status.rssBytes)}`;
  return `memory ${mib(status.rssBytes - status.rssFileBytes)} own, ${mib(status.rssFileBytes)} of mapped files (the store, the program)`;
}

function uptime(seconds) {
  const d = Math.floor(seconds / 86_400);
  const hours = Math.floor((seconds % 86_400) / 3_600);
  const m = Math.floor((seconds % 3_600) / 60);
  return d > 0 ? `${d} d ${hours} h` : hours > 0 ? `${hours} h ${m} min` : `${m} min`;
}

/**
 * A certificate rollover under way: since when, by the server's clock (its start plus its uptime), and which of the
 * paired terminals follow it (an unpaired one has no pairing to keep).
 */
function rollover(status) {
  const { sfp, announcedSince, terminalsSeenSince, pairedTerminals } = status.nextIdentity;
  const seconds = Math.max(0, Math.floor((Date.parse(status.startedAt) + status.uptimeSec * 1000 - Date.parse(announcedSince)) / 1000));
  const left = pairedTerminals - terminalsSeenSince;
  return h('p', { id: 'server-next-identity' }, 'Certificate rollover: the next SFP ',
    h('span', { class: 'mono' }, sfp),
    ` is announced to terminals since ${formatTime(announcedSince)} (${seconds < 60 ? 'for under a minute' : `for ${uptime(seconds)}`}); `,
    `${terminalsSeenSince.toLocaleString()} of ${pairedTerminals.toLocaleString()} paired terminals seen since will follow the switch (pairing-server identity promote). `,
    left > 0
      ? `The other ${left.toLocaleString()} will need terminal pair --expect-sfp after it: on the Terminals view, the paired ones last seen before ${formatTime(announcedSince)}, or never.`
      : 'Every paired terminal has been seen since.');
}

/** "answered / refused / failed", the failed part flagged when there is any. */
function counts(c) {
  if (!c) return '—';
  return h('span', { class: 'mono nowrap' }, `${c.answered.toLocaleString()} / ${c.refused.toLocaleString()} / `,
    h('span', { class: c.failed > 0 ? 'text-danger' : null }, c.failed.toLocaleString()));
}

/** Often enough to watch a thread restart; each refresh is one op and one scan of the lease table. */
const REFRESH_MS = 5_000;

export function serverView(ctx) {
  const summary = h('div', { id: 'server-summary', class: 'card', 'aria-live': 'polite' }, h('p', { class: 'loading' }, 'Loading…'));
  const results = h('div', { id: 'server-threads' });

  let timer = null;
  let shown = true;

  async function load() {
    clearTimeout(timer);
    try {
      const status = await ctx.read('server.status');
      fill(summary,
        h('p', {}, `Up ${uptime(status.uptimeSec)}, since ${formatTime(status.startedAt)}. `,
          `${status.terminals.toLocaleString()} terminals created; ${memory(status)}. `,
          status.pairingHistory ? `${status.pairingHistory.requests.toLocaleString()} pairing requests kept (${status.pairingHistory.days === 0 ? 'for ever' : `${status.pairingHistory.days} days once over`}). ` : null,
          status.disk ? `Disk: ${mib(status.disk.freeBytes)} free (minimum ${mib(status.disk.minFreeBytes)}). ` : null,
          h('span', { class: 'muted', id: 'server-as-of' }, `As of ${formatTime(new Date().toISOString())}.`)),
        status.disk?.low
          ? h('p', { class: 'warning', id: 'server-disk-low', role: 'alert' }, 'The store\'s disk is almost full: terminals\' cash events are refused (storage_unavailable) until there is room. Free space on the data dir\'s disk.')
          : null,
        status.nextIdentity ? rollover(status) : null,
        h('p', { class: 'hint' }, 'Answers are counted per thread since it started: answered / refused (4xx) / failed (5xx). ' +
          'Actors are the terminals heard from within the actor idle time; busy is the share of the last 5 s the thread worked; ' +
          'longest lag is the most its loop was late in the last minute, what a call could have waited behind one piece of its work.'));
      fill(results, dataTable({
        id: 'server-table',
        caption: 'Front-end threads',
        rows: status.threads,
        empty: 'No front-end thread.',
        columns: [
          { label: 'Thread', cell: (t) => String(t.thread) },
          { label: 'State', cell: (t) => h('span', { class: `pill ${t.state === 'running' ? 'pill-ok' : 'pill-danger'}` }, STATE_LABELS[t.state] ?? t.state) },
          { label: 'Since', cell: (t) => (t.startedAt ? h('time', { datetime: t.startedAt }, formatTime(t.startedAt)) : '—') },
          { label: 'Restarts', cell: (t) => String(t.restarts) },
          { label: 'Leases', cell: (t) => t.leases.toLocaleString() },
          { label: 'Actors', cell: (t) => (t.report ? t.report.actors.toLocaleString() : '—') },
          { label: 'Busy', cell: (t) => (t.report ? `${Math.round(t.report.busy * 100)} %` : '—') },
          { label: 'Longest lag', cell: (t) => (t.report ? `${t.report.lagMaxMs.toLocaleString()} ms` : '—') },
          { label: 'In flight', cell: (t) => (t.report ? String(t.report.inFlight.master + t.report.inFlight.gate) : '—') },
          { label: 'Master', cell: (t) => counts(t.report?.master) },
          { label: 'Gate', cell: (t) => counts(t.report?.gate) },
          { label: 'Handed on / received', cell: (t) => (t.report ? `${t.report.handedOn.toLocaleString()} / ${t.report.received.toLocaleString()}` : '—') },
          { label: 'Heap', cell: (t) => (t.report ? h('span', { class: 'nowrap' }, mib(t.report.heapUsedBytes)) : '—') },
          { label: 'Addresses / keys', cell: (t) => (t.report ? `${t.report.trackedAddresses.toLocaleString()} / ${t.report.cachedKeys.toLocaleString()}` : '—') },
        ],
      }));
    } catch (failure) {
      fill(results, h('p', { class: 'form-error', role: 'alert' }, errorText(failure)));
    }
    // One chain of refreshes: a Refresh clicked while one was under way MUST NOT start a second chain, and a refresh
    // that was under way when the operator left MUST NOT start the next one.
    clearTimeout(timer);
    if (shown) timer = setTimeout(load, REFRESH_MS);
  }

  load();
  const el = h('section', { class: 'view' },
    h('div', { class: 'view-head' },
      h('h1', { tabindex: '-1' }, 'Server'),
      h('button', { type: 'button', class: 'secondary', id: 'server-refresh', onclick: load }, 'Refresh')),
    summary,
    results);
  const dispose = () => {
    shown = false;
    clearTimeout(timer);
  };
  return { el, title: 'Server', dispose };
}
