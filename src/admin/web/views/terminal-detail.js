/** @module One terminal: its fields, full TFP, its pairing requests, and unpairing (step "break trust") behind a confirmation. */
import { dataTable, fill, fingerprintText, h, pill } from '../dom.js';
import { effectiveState, errorText, formatTime } from '../format.js';

export function terminalDetailView(ctx, serial) {
  const { store } = ctx;
  const body = h('div', { id: 'terminal-detail' });
  const error = h('p', { class: 'form-error', role: 'alert', hidden: true });

  async function unpair() {
    const yes = await ctx.confirm({
      title: `Unpair terminal ${serial}?`,
      text: 'The server forgets this terminal\'s fingerprint at once: its next call is refused, and it must pair again (with an operator\'s approval) to work.',
      confirmLabel: 'Unpair',
      danger: true,
    });
    if (!yes) return;
    try {
      store.putTerminal(await ctx.call('terminals.unpair', { serial }));
      ctx.toast(`Terminal ${serial} unpaired.`, 'ok');
    } catch (failure) {
      error.textContent = errorText(failure);
      error.hidden = false;
    }
  }

  function render() {
    const t = store.terminals.get(serial);
    if (!t) {
      fill(body, h('p', { class: 'empty' }, `No terminal with serial ${serial}.`));
      return;
    }
    const requests = [...store.requests.values()].filter((r) => r.serial === serial);
    fill(body,
      h('dl', { class: 'facts card' },
        h('dt', {}, 'State'), h('dd', { id: 'terminal-state-value' }, pill(t.state)),
        h('dt', {}, 'Name'), h('dd', {}, t.name || '—'),
        h('dt', {}, 'Location'), h('dd', {}, t.location || '—'),
        h('dt', {}, 'Contact'), h('dd', {}, t.contact || '—'),
        h('dt', {}, 'VPN'), h('dd', {}, t.vpn ? 'yes' : 'no'),
        h('dt', {}, 'TFP'), h('dd', {}, t.tfp ? fingerprintText(t.tfp, 'terminal-tfp') : h('span', { id: 'terminal-tfp' }, 'not paired')),
        h('dt', {}, 'Paired'), h('dd', {}, formatTime(t.pairedAt)),
        h('dt', {}, 'Last seen'), h('dd', {}, t.lastSeenAt ? formatTime(t.lastSeenAt) : 'never'),
        h('dt', {}, 'Created'), h('dd', {}, formatTime(t.createdAt))),
      t.state === 'paired'
        ? h('div', { class: 'actions' }, h('button', { type: 'button', class: 'danger', id: 'unpair', onclick: unpair }, 'Unpair…'))
        : null,
      error,
      h('h2', {}, 'Pairing requests'),
      dataTable({
        id: 'terminal-requests',
        caption: `Pairing requests of ${serial}`,
        rows: requests.sort((a, b) => b.requestedAt.localeCompare(a.requestedAt)),
        empty: 'None yet.',
        columns: [
          { label: 'Requested', cell: (r) => h('a', { href: `#/pairing/${encodeURIComponent(r.requestId)}` }, formatTime(r.requestedAt)) },
          { label: 'State', cell: (r) => pill(effectiveState(r)) },
          { label: 'From', cell: (r) => r.remoteAddress },
          { label: 'Decided by', cell: (r) => r.decidedBy ?? '—' },
        ],
      }));
  }

  const unsubscribe = store.subscribe((topic) => {
    if (topic === 'terminals' || topic === 'requests') render();
  });
  render();
  // The list may be older than this terminal's last contact: fetch it once.
  ctx.call('terminals.get', { serial }).then((t) => store.putTerminal(t), () => {});

  const el = h('section', { class: 'view' },
    h('p', { class: 'crumbs' }, h('a', { href: '#/terminals' }, '← Terminals')),
    h('h1', { tabindex: '-1', class: 'mono-title' }, `Terminal ${serial}`),
    body);
  return { el, title: `Terminal ${serial}`, dispose: unsubscribe };
}
