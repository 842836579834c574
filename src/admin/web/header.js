/** @module The header: navigation with the live pairing badge, the gate's state, the operator (and a viewer's role) and logout, and the no-2FA or read-only banner. */
import { byId, fill, h } from './dom.js';
import { formatClock } from './format.js';

const NAV = [
  ['#/terminals', 'Terminals'],
  ['#/pairing', 'Pairing requests'],
  ['#/unknown', 'Unknown serials'],
  ['#/audit', 'Audit log'],
  ['#/gate', 'Gate'],
  ['#/server', 'Server'],
];

let built = false;
const parts = {};

function build(ctx) {
  const topbar = byId('topbar');
  parts.badge = h('span', { class: 'badge', id: 'pairing-badge', 'aria-live': 'polite' });
  parts.unknownBadge = h('span', { class: 'badge badge-muted', id: 'unknown-badge' });
  parts.gate = h('a', { href: '#/gate', class: 'gate-pill', id: 'gate-pill' });
  parts.user = h('span', { class: 'user-name', id: 'user-name' });
  parts.role = h('span', { class: 'pill', id: 'user-role', title: 'A read-only account: it can look, not change anything' }, 'viewer');
  parts.links = NAV.map(([href, label]) => h('a', { href }, label,
    href === '#/pairing' ? parts.badge : null,
    href === '#/unknown' ? parts.unknownBadge : null));
  fill(topbar,
    h('div', { class: 'topbar-row' },
      h('a', { class: 'brand', href: '#/terminals' }, 'Terminal pairing'),
      parts.gate,
      h('div', { class: 'user' }, parts.user, parts.role, h('button', { type: 'button', class: 'secondary small', id: 'logout', onclick: () => ctx.logout() }, 'Log out'))),
    h('nav', { 'aria-label': 'Main' }, parts.links));
  built = true;
}

export function renderHeader(ctx) {
  const { store } = ctx;
  const topbar = byId('topbar');
  const banner = byId('banner');
  topbar.hidden = store.session === null;
  if (!store.session) {
    banner.hidden = true;
    return;
  }
  if (!built) build(ctx);
  parts.user.textContent = store.session.user;
  const viewer = store.session.role === 'viewer';
  parts.role.hidden = !viewer;

  const pending = store.pendingRequests().length;
  parts.badge.textContent = pending ? String(pending) : '';
  parts.badge.hidden = pending === 0;
  parts.badge.setAttribute('aria-label', `${pending} waiting`);
  const unknown = store.unknown.size;
  parts.unknownBadge.textContent = unknown ? String(unknown) : '';
  parts.unknownBadge.hidden = unknown === 0;

  const gate = store.gate;
  const open = gate?.open === true;
  parts.gate.className = `gate-pill ${open ? 'gate-open' : 'gate-closed'}`;
  parts.gate.textContent = gate === null ? 'Gate …' : open ? `Gate open until ${formatClock(gate.openUntil)}` : 'Gate closed';

  const hash = location.hash || '#/terminals';
  for (const link of parts.links) {
    const href = link.getAttribute('href');
    if (hash === href || hash.startsWith(`${href}/`) || hash.startsWith(`${href}?`)) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }

  // One banner for the session's account, filled again when another account logs in on this tab.
  const kind = viewer ? 'viewer' : store.session.has2fa ? null : 'no-2fa';
  banner.hidden = kind === null;
  if (kind !== null && banner.dataset.kind !== kind) {
    banner.dataset.kind = kind;
    if (kind === 'viewer') {
      fill(banner,
        h('strong', {}, 'Read-only account. '),
        'You can look at the terminals, pairing requests, audit log, gate and server, but not change anything: an operator approves, creates, unpairs and deletes.');
    } else {
      fill(banner,
        h('strong', {}, 'No two-factor authentication on your account. '),
        'You can look around, but you cannot approve pairing requests, unpair or delete terminals, or set their contacts. ',
        h('a', { href: '#/2fa' }, 'Set up 2FA now'));
    }
  }
}
