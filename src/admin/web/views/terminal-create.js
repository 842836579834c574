/** @module The form that creates an expected terminal (step 1 of pairing); prefilled with a serial from the unknown-serials list. */
import { field, formError, h } from '../dom.js';
import { errorText } from '../format.js';

const SERIAL_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export function terminalCreateView(ctx, prefillSerial) {
  const unknown = prefillSerial ? ctx.store.unknown.get(prefillSerial) : null;
  const serial = h('input', { id: 'create-serial', name: 'serial', required: true, value: prefillSerial, autocomplete: 'off', autocapitalize: 'none', spellcheck: 'false', maxlength: '64', class: 'mono' });
  const name = h('input', { id: 'create-name', name: 'name', maxlength: '128', autocomplete: 'off' });
  const location = h('input', { id: 'create-location', name: 'location', maxlength: '256', autocomplete: 'off' });
  const contact = h('input', { id: 'create-contact', name: 'contact', type: 'tel', maxlength: '128', autocomplete: 'off' });
  const vpn = h('input', { id: 'create-vpn', name: 'vpn', type: 'checkbox' });
  const error = formError('create-error');
  const submit = h('button', { type: 'submit', class: 'primary', id: 'create-submit' }, 'Create terminal');

  async function onSubmit(event) {
    event.preventDefault();
    error.show(null);
    const value = serial.value.trim();
    if (!SERIAL_PATTERN.test(value)) {
      error.show('Serial: 1 to 64 characters of A-Z a-z 0-9 . _ -, starting with a letter or digit.');
      serial.focus();
      return;
    }
    submit.disabled = true;
    try {
      const terminal = await ctx.call('terminals.create', {
        serial: value, name: name.value.trim(), location: location.value.trim(), contact: contact.value.trim(), vpn: vpn.checked,
      });
      ctx.store.putTerminal(terminal);
      ctx.toast(`Terminal ${terminal.serial} created: it may now pair while the gate is open.`, 'ok');
      ctx.navigate(`#/terminals/${encodeURIComponent(terminal.serial)}`);
    } catch (failure) {
      submit.disabled = false;
      error.show(errorText(failure));
    }
  }

  const el = h('section', { class: 'view narrow' },
    h('p', { class: 'crumbs' }, h('a', { href: '#/terminals' }, '← Terminals')),
    h('h1', { tabindex: '-1' }, 'New terminal'),
    h('p', { class: 'muted' }, 'Create the terminal with its serial number before it pairs: the server then expects it. Give the location contact\'s phone: you will call it to compare the pairing code.'),
    unknown ? h('p', { class: 'notice' }, `This serial tried to pair from ${unknown.remoteAddress}. Create it only if it is your terminal.`) : null,
    h('form', { class: 'card', id: 'create-form', onsubmit: onSubmit, novalidate: true },
      field('Serial number', serial, 'As printed on the terminal, e.g. BT100200.'),
      field('Name', name),
      field('Location', location, 'Address or site name.'),
      field('Contact phone', contact, 'The person at the location who reads you the pairing code.'),
      h('div', { class: 'field check' }, vpn, h('label', { for: 'create-vpn' }, 'Uses the built-in VPN (deployment scenario A)')),
      error.el,
      h('div', { class: 'actions' }, h('a', { href: '#/terminals', class: 'button secondary' }, 'Cancel'), submit)));
  return { el, title: 'New terminal' };
}
