/**
 * @module Account alarms: operator accounts created or changed on the server (`pairing-server users …`, pushed to every
 * logged-in operator as operator.created and operator.changed). An unexpected one is an alarm, so each notice stays,
 * across reloads of this tab, until an operator dismisses it; a toast would be gone before anyone came back.
 */
import { byId, h } from './dom.js';
import { formatClock, formatTime } from './format.js';
import { auditHash } from './views/audit.js';

/** sessionStorage, as the session token: a reload must not dismiss an alarm nobody has read, and closing the tab ends it. */
const KEY = 'pairing-admin-alarms';

/** How each command ends the sentence "Operator account bob …". */
const DONE = {
  'users.add': 'was created',
  'users.disable': 'was disabled',
  'users.enable': 'was enabled again',
  'users.reset_2fa': 'had its two-factor authentication reset',
  'users.passwd': 'had its password changed',
  'users.role': 'had its role changed (operator or viewer)',
};
/** What a refused command tried: "cli:root tried to disable operator account bob". */
const TRIED = {
  'users.add': 'create',
  'users.disable': 'disable',
  'users.enable': 'enable',
  'users.reset_2fa': 'reset the two-factor authentication of',
  'users.passwd': 'change the password of',
  'users.role': 'change the role of',
};

/** The notice for a push; `action` is users.add for operator.created. A refusal reads as an attempt, with its code. */
export function alarmText({ user, by, at, action, result }) {
  const when = formatClock(at);
  if (result === 'ok') return `Operator account ${user} ${DONE[action] ?? `was changed (${action})`} on the server by ${by} at ${when}.`;
  return `${by} tried to ${TRIED[action] ?? `change (${action})`} operator account ${user} on the server at ${when}. It was refused (${result}).`;
}

function stored() {
  try {
    const list = JSON.parse(sessionStorage.getItem(KEY) ?? '[]');
    return Array.isArray(list) ? list.filter((a) => Number.isSafeInteger(a?.id) && typeof a.text === 'string') : [];
  } catch {
    return [];
  }
}

/** Listens for the pushes and shows the alarms in #alarms while an operator is logged in. */
export function accountAlarms({ channel, store }) {
  const region = byId('alarms');
  /** The alarms not dismissed, oldest first: { id, text, at, action, result }. */
  let alarms = stored();
  let nextId = Math.max(0, ...alarms.map((a) => a.id)) + 1;

  function save() {
    sessionStorage.setItem(KEY, JSON.stringify(alarms));
  }

  function add(data) {
    const alarm = { id: nextId++, text: alarmText(data), at: data.at, action: data.action, result: data.result };
    alarms.push(alarm);
    save();
    // Appended, never the region rebuilt: the live region announces what is added, and would repeat the rest.
    region.append(notice(alarm));
  }

  function dismiss(alarm, el) {
    // The focus was on this Dismiss button: it goes to the next alarm's, or to the view's heading when none is left.
    const neighbour = el.nextElementSibling ?? el.previousElementSibling;
    alarms = alarms.filter((a) => a.id !== alarm.id);
    save();
    el.remove();
    (neighbour?.querySelector('button') ?? document.querySelector('main h1'))?.focus();
  }

  function notice(alarm) {
    const refused = alarm.result !== 'ok';
    const textId = `alarm-${alarm.id}-text`;
    const el = h('div', { class: `alarm${refused ? ' alarm-refused' : ''}`, 'data-alarm': String(alarm.id) },
      h('p', { id: textId },
        h('strong', {}, refused ? 'Attempted account change. ' : 'Account changed. '),
        h('span', { title: formatTime(alarm.at) }, alarm.text), ' ',
        'If nobody told you of it, find out who ran it. ',
        h('a', { href: auditHash({ action: alarm.action }) }, 'Show in the audit log')),
      h('button', { type: 'button', class: 'secondary small', 'aria-describedby': textId, onclick: () => dismiss(alarm, el) }, 'Dismiss'));
    return el;
  }

  function showIfLoggedIn() {
    // Not on the login form: the accounts of a server are not for whoever stands at the screen. Shown while empty (it
    // takes no room then): a live region MUST be on the page before what it announces is added to it.
    region.hidden = !store.session;
  }

  channel.on('operator.created', (data) => add({ ...data, action: 'users.add' }));
  channel.on('operator.changed', (data) => add(data));
  store.subscribe((topic) => {
    if (topic === 'session') showIfLoggedIn();
  });
  region.append(...alarms.map(notice));
  showIfLoggedIn();
}
