/** @module The gate: whether terminals can ask to pair right now and until when; open it for some minutes, or close it. */
import { fill, formError, h } from '../dom.js';
import { errorText, formatTime, relative } from '../format.js';

export function gateView(ctx) {
  const { store } = ctx;
  const status = h('div', { id: 'gate-status', class: 'card gate-card', 'aria-live': 'polite', tabindex: '-1' });
  const minutes = h('input', { id: 'gate-minutes', type: 'number', min: '1', max: '10080', value: '60', inputmode: 'numeric', class: 'short' });
  const error = formError('gate-error');
  const openButton = h('button', { type: 'submit', class: 'primary', id: 'gate-open' }, 'Open gate');
  const closeButton = h('button', { type: 'button', class: 'secondary', id: 'gate-close', onclick: close }, 'Close gate');

  async function open(event) {
    event.preventDefault();
    error.show(null);
    const value = Number(minutes.value);
    if (!Number.isInteger(value) || value < 1 || value > 10080) {
      error.show('Minutes: a whole number from 1 to 10080 (7 days).');
      minutes.focus();
      return;
    }
    try {
      store.setGate(await ctx.call('gate.open', { minutes: value }));
    } catch (failure) {
      error.show(errorText(failure));
    }
  }

  async function close() {
    error.show(null);
    try {
      store.setGate(await ctx.call('gate.close'));
      // The button just pressed is disabled now: keep keyboard users on the state it changed.
      status.focus();
    } catch (failure) {
      error.show(errorText(failure));
    }
  }

  function render() {
    const gate = store.gate;
    if (!gate) {
      fill(status, 'Loading…');
      return;
    }
    fill(status, gate.open
      ? [h('p', { class: 'gate-state gate-open-text' }, 'OPEN'),
        h('p', {}, `Terminals can ask to pair on port ${gate.port} until ${formatTime(gate.openUntil)} (${relative(gate.openUntil)}).`)]
      : [h('p', { class: 'gate-state gate-closed-text' }, 'CLOSED'),
        h('p', {}, `Port ${gate.port} does not listen: no terminal can ask to pair. Open it while you expect a terminal.`)]);
    closeButton.disabled = !gate.open;
  }

  const unsubscribe = store.subscribe((topic) => {
    if (topic === 'gate') render();
  });
  render();

  const el = h('section', { class: 'view narrow' },
    h('h1', { tabindex: '-1' }, 'Gate'),
    status,
    // A viewer sees whether terminals can pair; opening and closing the gate is an operator's.
    ctx.mayChange()
      ? h('form', { class: 'card', id: 'gate-form', onsubmit: open, novalidate: true },
        h('div', { class: 'field' }, h('label', { for: 'gate-minutes' }, 'Open for (minutes)'), minutes),
        error.el,
        h('div', { class: 'actions' }, closeButton, openButton))
      : h('p', { class: 'muted', id: 'gate-read-only' }, 'Your account is a viewer: an operator opens and closes the gate.'));
  return { el, title: 'Gate', dispose: unsubscribe };
}
